/**
 * ISP and region from a viewer's address: the config file's prefix table (longest prefix,
 * IPv4 and IPv6), MMDB databases through the `maxmind` reader (ASN/ISP and City/Country
 * fields, IPinfo's spelling too), the two together, and the COM putting the looked-up ISP —
 * not the viewer's claim — into the join ticket, which the tracker then hands to neighbour
 * choice (server/tracker/neighbours.ts ranks by it).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoSchema } from '../common/com';
import { openIspLookup, resolveLocality } from '../server/geo/isp-lookup';
import { MmdbLookup } from '../server/geo/mmdb-lookup';
import { addressBits, PrefixTable } from '../server/geo/prefix-table';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import { writeMmdb } from './support/mmdb-writer';
import { trackerClientFor } from './support/tracker-join';

describe('prefix table', () => {
  const table = new PrefixTable({
    '10.0.0.0/8': { isp: 'big-isp', region: 'north' },
    '10.1.0.0/16': { isp: 'small-isp', region: 'north' },
    '10.1.2.3/32': { isp: 'one-host' },
    '2001:db8::/32': { isp: 'v6-isp', region: 'south' },
    '2001:db8:aa::/48': { region: 'east' },
    '0.0.0.0/0': { region: 'anywhere' },
  });

  it('matches the longest prefix, IPv4 and IPv6, mapped addresses too', () => {
    expect(table.lookup('10.9.9.9')).toEqual({ isp: 'big-isp', region: 'north' });
    expect(table.lookup('10.1.200.1')).toEqual({ isp: 'small-isp', region: 'north' });
    expect(table.lookup('10.1.2.3')).toEqual({ isp: 'one-host' });
    expect(table.lookup('::ffff:10.1.2.3')).toEqual({ isp: 'one-host' });
    expect(table.lookup('::ffff:a01:203')).toEqual({ isp: 'one-host' });
    expect(table.lookup('2001:db8:1::5')).toEqual({ isp: 'v6-isp', region: 'south' });
    expect(table.lookup('2001:db8:aa:1::5')).toEqual({ region: 'east' });
    expect(table.lookup('192.0.2.1')).toEqual({ region: 'anywhere' });
    // ::/0 is not in the table (0.0.0.0/0 covers IPv4 only).
    expect(table.lookup('2002::1')).toBeNull();
    expect(table.lookup('not an address')).toBeNull();
    expect(table.size).toBe(6);
  });

  it('parses every IPv6 spelling to the same number', () => {
    expect(addressBits('::1')).toBe(1n);
    expect(addressBits('0:0:0:0:0:0:0:1')).toBe(1n);
    expect(addressBits('2001:db8::')).toBe(0x20010db8n << 96n);
    expect(addressBits('::ffff:1.2.3.4')).toBe(addressBits('1.2.3.4'));
    expect(addressBits('fe80::1%eth0')).toBe((0xfe80n << 112n) | 1n);
  });

  it('refuses bad prefixes', () => {
    expect(() => new PrefixTable({ '10.0.0.0/33': { isp: 'x' } })).toThrow(/prefix length/);
    expect(() => new PrefixTable({ 'example.com/8': { isp: 'x' } })).toThrow(/not an IPv4/);
  });
});

describe('MMDB lookup', () => {
  let dir: string;
  let asn: string;
  let city: string;
  let ipinfo: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmcast-mmdb-'));
    asn = join(dir, 'asn.mmdb');
    city = join(dir, 'city.mmdb');
    ipinfo = join(dir, 'ipinfo.mmdb');
    await writeFile(
      asn,
      writeMmdb(
        {
          '198.51.100.0/24': {
            autonomous_system_number: 64500,
            autonomous_system_organization: 'Example Net',
          },
          '198.51.100.128/25': { autonomous_system_number: 64501, isp: 'Example Cable' },
          '2001:db8:100::/48': { autonomous_system_number: 64502 },
        },
        'GeoLite2-ASN',
      ),
    );
    await writeFile(
      city,
      writeMmdb(
        {
          '198.51.100.0/24': { country: { iso_code: 'DE' }, subdivisions: [{ iso_code: 'BE' }] },
          '2001:db8::/32': { country: { iso_code: 'FR' } },
        },
        'GeoLite2-City',
      ),
    );
    await writeFile(
      ipinfo,
      writeMmdb({
        '203.0.113.0/24': { asn: 'AS64510', as_name: 'Info Telecom', country: 'JP', region: 'Tokyo' },
      }),
    );
  });

  it('reads ISP fields from an ASN database and the region from a City one', async () => {
    const geo = await MmdbLookup.open([asn, city, ipinfo]);
    expect(geo.lookup('198.51.100.7')).toEqual({ isp: 'Example Net', region: 'DE-BE' });
    expect(geo.lookup('198.51.100.200')).toEqual({ isp: 'Example Cable', region: 'DE-BE' });
    expect(geo.lookup('::ffff:198.51.100.7')).toEqual({ isp: 'Example Net', region: 'DE-BE' });
    expect(geo.lookup('2001:db8:100::1')).toEqual({ isp: 'AS64502', region: 'FR' });
    expect(geo.lookup('2001:db8:200::1')).toEqual({ region: 'FR' });
    expect(geo.lookup('203.0.113.9')).toEqual({ isp: 'Info Telecom', region: 'JP-Tokyo' });
    expect(geo.lookup('192.0.2.1')).toBeNull();
    expect(geo.lookup('garbage')).toBeNull();
  });

  it('the prefix table wins over the databases; the hint fills only what lookup leaves open', async () => {
    const geo = await openIspLookup({
      prefixes: { '198.51.100.7/32': { isp: 'operator-says' } },
      mmdbPaths: [asn, city],
      log: silentLogger(),
    });
    expect(geo!.lookup('198.51.100.7')).toEqual({ isp: 'operator-says', region: 'DE-BE' });
    expect(geo!.lookup('198.51.100.8')).toEqual({ isp: 'Example Net', region: 'DE-BE' });
    expect(geo!.lookup(undefined)).toBeNull();
    expect(resolveLocality(geo!.lookup('198.51.100.8'), { isp: 'claimed', region: 'claimed' })).toEqual({
      isp: 'Example Net',
      region: 'DE-BE',
    });
    expect(resolveLocality(geo!.lookup('2001:db8:200::1'), { isp: 'claimed' })).toEqual({
      isp: 'claimed',
      region: 'FR',
    });
    expect(await openIspLookup({ log: silentLogger() })).toBeNull();
  });
});

function getFrom(localAddress: string, port: number, path: string): Promise<ComChannelInfo> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(channelInfoSchema.parse(JSON.parse(Buffer.concat(chunks).toString())));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function ticketPayload(ticket: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(ticket.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
}

describe('the COM uses the looked-up ISP over the viewer’s hint', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-geo-com-')),
      log: silentLogger(),
      ispPrefixes: {
        '127.0.0.0/8': { isp: 'loopnet', region: 'lab' },
        '127.0.0.2/32': { isp: 'othernet', region: 'lab' },
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('puts the looked-up ISP and region in the ticket, and the tracker ranks by it', async () => {
    const a = await getFrom('127.0.0.2', server.httpPort, '/api/channels/demo?isp=claimed&region=claimed');
    const b = await getFrom('127.0.0.1', server.httpPort, '/api/channels/demo?isp=othernet');
    const c = await getFrom('127.0.0.3', server.httpPort, '/api/channels/demo');
    expect(ticketPayload(a.peer.ticket)).toMatchObject({ i: 'othernet', g: 'lab' });
    expect(ticketPayload(b.peer.ticket)).toMatchObject({ i: 'loopnet', g: 'lab' });
    expect(ticketPayload(c.peer.ticket)).toMatchObject({ i: 'loopnet', g: 'lab' });
    const clients = [a, b, c].map((info) =>
      trackerClientFor(info, {
        // What the viewer claims at the tracker does not count against the ticket.
        isp: 'othernet',
      }),
    );
    try {
      await Promise.all(clients.map((t) => t.connect()));
      const seen = await clients[2]!.neighbours(2);
      const byId = new Map(seen.map((p) => [p.peerId, p.isp]));
      expect(byId.get(a.peer.id)).toBe('othernet');
      expect(byId.get(b.peer.id)).toBe('loopnet');
    } finally {
      await Promise.all(clients.map((t) => t.close()));
    }
  });
});
