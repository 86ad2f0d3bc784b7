/**
 * The STUN binding server: raw Binding Requests crafted here (transaction id reused,
 * XOR-MAPPED-ADDRESS decoding to the sender, FINGERPRINT, IPv4 / IPv6 / dual-stack), garbage
 * ignored without an answer, and libdatachannel gathering a srflx candidate through it.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { crc32 } from 'node:zlib';
import { PeerConnection } from 'node-datachannel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../server/log';
import { ipv6Bytes, type RunningStun, startStun, stunBindingResponse } from '../server/stun/stun-server';

const COOKIE = 0x2112a442;

function bindingRequest(
  txid: Buffer,
  opts: { fingerprint?: boolean; software?: string; type?: number } = {},
): Buffer {
  const attrs: Buffer[] = [];
  if (opts.software) {
    const value = Buffer.from(opts.software);
    const a = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
    a.writeUInt16BE(0x8022, 0);
    a.writeUInt16BE(value.length, 2);
    value.copy(a, 4);
    attrs.push(a);
  }
  const bodyLen = attrs.reduce((n, a) => n + a.length, 0) + (opts.fingerprint ? 8 : 0);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(opts.type ?? 0x0001, 0);
  header.writeUInt16BE(bodyLen, 2);
  header.writeUInt32BE(COOKIE, 4);
  txid.copy(header, 8);
  let msg = Buffer.concat([header, ...attrs]);
  if (opts.fingerprint) {
    const fp = Buffer.alloc(8);
    fp.writeUInt16BE(0x8028, 0);
    fp.writeUInt16BE(4, 2);
    fp.writeUInt32BE((crc32(msg) ^ 0x5354554e) >>> 0, 4);
    msg = Buffer.concat([msg, fp]);
  }
  return msg;
}

interface Decoded {
  type: number;
  txid: string;
  family: number;
  address: string;
  port: number;
  fingerprintOk: boolean | null;
}

/** An independent decoder of a Binding Success Response. */
function decodeResponse(msg: Buffer): Decoded {
  expect(msg.length).toBe(20 + msg.readUInt16BE(2));
  expect(msg.readUInt32BE(4)).toBe(COOKIE);
  let off = 20;
  let out: Pick<Decoded, 'family' | 'address' | 'port'> | null = null;
  let fingerprintOk: boolean | null = null;
  while (off < msg.length) {
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 2);
    const v = msg.subarray(off + 4, off + 4 + len);
    if (type === 0x0020) {
      const family = v[1]!;
      const port = v.readUInt16BE(2) ^ (COOKIE >>> 16);
      const key = msg.subarray(4, family === 1 ? 8 : 20);
      const raw = Buffer.from(v.subarray(4).map((b, i) => b ^ key[i]!));
      const address =
        family === 1
          ? [...raw].join('.')
          : Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(':');
      out = { family, address, port };
    }
    if (type === 0x8028)
      fingerprintOk = v.readUInt32BE(0) === (crc32(msg.subarray(0, off)) ^ 0x5354554e) >>> 0;
    off += 4 + Math.ceil(len / 4) * 4;
  }
  if (!out) throw new Error('no XOR-MAPPED-ADDRESS');
  return { type: msg.readUInt16BE(0), txid: msg.subarray(8, 20).toString('hex'), ...out, fingerprintOk };
}

function socket(type: 'udp4' | 'udp6', host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(type);
    s.once('error', reject);
    s.bind(0, host, () => resolve(s));
  });
}

/** Sends each datagram in order and resolves with the first answer. */
function exchange(s: Socket, to: string, port: number, datagrams: Buffer[]): Promise<Buffer> {
  return new Promise((resolve) => {
    s.once('message', (msg) => resolve(msg));
    for (const d of datagrams) s.send(d, port, to);
  });
}

async function canBind(type: 'udp6', host: string): Promise<boolean> {
  try {
    const s = await socket(type, host);
    s.close();
    return true;
  } catch {
    return false;
  }
}

describe('stunBindingResponse (pure)', () => {
  it('answers from an IPv6 sender with the address XORed with cookie and transaction id', () => {
    const txid = randomBytes(12);
    const res = stunBindingResponse(bindingRequest(txid), { address: '2001:db8::ff00:42:8329', port: 51234 });
    const d = decodeResponse(res!);
    expect(d).toMatchObject({ type: 0x0101, txid: txid.toString('hex'), family: 2, port: 51234 });
    expect(d.address).toBe('2001:db8:0:0:0:ff00:42:8329');
  });

  it('answers an IPv4-mapped sender (dual-stack socket) as IPv4', () => {
    const d = decodeResponse(
      stunBindingResponse(bindingRequest(randomBytes(12)), { address: '::ffff:10.1.2.3', port: 9 })!,
    );
    expect(d).toMatchObject({ family: 1, address: '10.1.2.3', port: 9 });
  });

  it.each<[string, number[] | null]>([
    ['::', new Array(16).fill(0)],
    ['::1', [...new Array(15).fill(0), 1]],
    ['fe80::1%eth0', [0xfe, 0x80, ...new Array(13).fill(0), 1]],
    ['::ffff:1.2.3.4', [...new Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4]],
    ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
    ['1.2.3.4', null],
    ['nonsense', null],
  ])('ipv6Bytes(%s)', (text, bytes) => {
    expect(ipv6Bytes(text)).toEqual(bytes);
  });

  it('ignores everything that is not a well-formed Binding Request, without throwing', () => {
    const from = { address: '127.0.0.1', port: 1 };
    const good = bindingRequest(randomBytes(12), { fingerprint: true, software: 'test' });
    expect(stunBindingResponse(good, from)).not.toBeNull();
    const wrongFingerprint = Buffer.from(good);
    wrongFingerprint[wrongFingerprint.length - 1]! ^= 1;
    const noCookie = Buffer.from(good);
    noCookie.writeUInt32BE(0, 4);
    const badLength = Buffer.from(good);
    badLength.writeUInt16BE(good.length, 2);
    const overrun = bindingRequest(randomBytes(12), { software: 'abcd' });
    overrun.writeUInt16BE(200, 22); // attribute longer than the message
    const cases = [
      Buffer.alloc(0),
      Buffer.alloc(19),
      randomBytes(64),
      bindingRequest(randomBytes(12), { type: 0x0101 }), // a response
      bindingRequest(randomBytes(12), { type: 0x0011 }), // an indication
      bindingRequest(randomBytes(12), { type: 0x0003 }), // Allocate (TURN)
      wrongFingerprint,
      noCookie,
      badLength,
      overrun,
      Buffer.concat([good, Buffer.alloc(4)]),
      Buffer.alloc(4000),
    ];
    for (const c of cases) expect(stunBindingResponse(c, from)).toBeNull();
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(20 + (i % 60));
      junk.writeUInt16BE(1, 0);
      junk.writeUInt32BE(COOKIE, 4);
      junk.writeUInt16BE(junk.length - 20, 2);
      expect(() => stunBindingResponse(junk, from)).not.toThrow();
    }
    expect(stunBindingResponse(good, { address: 'not an address', port: 1 })).toBeNull();
  });
});

describe('STUN server on UDP', () => {
  let stun: RunningStun;
  beforeAll(async () => {
    stun = await startStun({ port: 0, host: '0.0.0.0', log: silentLogger() });
  });
  afterAll(async () => {
    await stun.close();
  });

  it('answers a Binding Request with its transaction id and the sender address (IPv4)', async () => {
    const s = await socket('udp4', '127.0.0.1');
    try {
      const txid = randomBytes(12);
      const d = decodeResponse(await exchange(s, '127.0.0.1', stun.port, [bindingRequest(txid)]));
      expect(d).toEqual({
        type: 0x0101,
        txid: txid.toString('hex'),
        family: 1,
        address: '127.0.0.1',
        port: s.address().port,
        fingerprintOk: null,
      });
      const fp = decodeResponse(
        await exchange(s, '127.0.0.1', stun.port, [bindingRequest(randomBytes(12), { fingerprint: true })]),
      );
      expect(fp.fingerprintOk).toBe(true);
    } finally {
      s.close();
    }
  });

  it('sends nothing back for garbage and keeps serving', async () => {
    const s = await socket('udp4', '127.0.0.1');
    try {
      const ignoredBefore = stun.stats.ignored;
      const junk = [
        randomBytes(7),
        randomBytes(100),
        bindingRequest(randomBytes(12), { type: 0x0111 }),
        Buffer.alloc(2000),
      ];
      const txid = randomBytes(12);
      // Datagrams on loopback arrive in order: the first answer must be the valid request's.
      const d = decodeResponse(await exchange(s, '127.0.0.1', stun.port, [...junk, bindingRequest(txid)]));
      expect(d.txid).toBe(txid.toString('hex'));
      expect(stun.stats.ignored - ignoredBefore).toBe(junk.length);
    } finally {
      s.close();
    }
  });

  it('answers over IPv6 on the same port', async ({ skip }) => {
    if (!stun.addresses.includes('::') || !(await canBind('udp6', '::1'))) skip('no IPv6 loopback here');
    const s = await socket('udp6', '::1');
    try {
      const txid = randomBytes(12);
      const d = decodeResponse(await exchange(s, '::1', stun.port, [bindingRequest(txid)]));
      expect(d).toMatchObject({
        txid: txid.toString('hex'),
        family: 2,
        address: '0:0:0:0:0:0:0:1',
        port: s.address().port,
      });
    } finally {
      s.close();
    }
  });

  it('a dual-stack server ([::]) answers IPv4 senders with IPv4 addresses', async ({ skip }) => {
    if (!(await canBind('udp6', '::'))) skip('no IPv6 here');
    const dual = await startStun({ port: 0, host: '::', log: silentLogger() });
    const s = await socket('udp4', '127.0.0.1');
    try {
      const d = decodeResponse(await exchange(s, '127.0.0.1', dual.port, [bindingRequest(randomBytes(12))]));
      expect(d).toMatchObject({ family: 1, address: '127.0.0.1', port: s.address().port });
    } finally {
      s.close();
      await dual.close();
    }
  });
});

describe('STUN server with libdatachannel', () => {
  it('lets a PeerConnection gather a server-reflexive candidate', async () => {
    const stun = await startStun({ port: 0, host: '127.0.0.1', log: silentLogger() });
    const pc = new PeerConnection('stun-test', { iceServers: [`stun:127.0.0.1:${stun.port}`] });
    try {
      const srflx = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no srflx candidate within 10 s')), 10_000);
        // Exceptions inside node-datachannel callbacks abort the process: keep them in.
        pc.onLocalCandidate((candidate) => {
          try {
            if (/ typ srflx /.test(candidate)) {
              clearTimeout(timer);
              resolve(candidate);
            }
          } catch {
            // ignore
          }
        });
        pc.onGatheringStateChange((state) => {
          try {
            if (state === 'complete') {
              clearTimeout(timer);
              reject(new Error('gathering completed without a srflx candidate'));
            }
          } catch {
            // ignore
          }
        });
        pc.createDataChannel('probe');
      });
      expect(srflx).toMatch(/ 127\.0\.0\.1 \d+ typ srflx /);
      expect(stun.stats.answered).toBeGreaterThanOrEqual(1);
    } finally {
      pc.close();
      await stun.close();
    }
  });
});
