/**
 * Admission: the COM names each viewer and signs a join ticket for its channel, sub-room, peer
 * id and role; the server's tracker refuses a join without one, with a forged or expired one, or
 * with one for somebody else; seed tickets go only to the server's seeds (the seed secret, or
 * loopback when no secret is set).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type ComChannelInfo, channelInfoSchema } from '../common/com';
import { type ClientMessage, encodeMessage, parseServerMessage } from '../common/tracker-protocol';
import { checkTicket, mintTicket, ticketKey } from '../server/com/join-ticket';
import { silentLogger } from '../server/log';
import { signerFromKey } from '../server/origin/signing-key';
import { type RunningServer, startServer } from '../server/run-server';

const signer = signerFromKey(generateKeyPairSync('ed25519').privateKey);
const other = signerFromKey(generateKeyPairSync('ed25519').privateKey);
const payload = { c: 'demo', s: 's0', p: 'abcdef0123456789', r: 'viewer' as const, e: 2_000_000_000_000 };

describe('join tickets', () => {
  it.each([
    ['a genuine ticket in date', mintTicket(signer, payload), 1_000, true, ''],
    ['an expired one', mintTicket(signer, payload), 2_000_000_000_001, false, 'expired'],
    ['one signed with another key', mintTicket(other, payload), 1_000, false, 'signature'],
    [
      'a payload swapped under a signature',
      `${mintTicket(signer, { ...payload, r: 'seed' }).split('.')[0]}.${mintTicket(signer, payload).split('.')[1]}`,
      1_000,
      false,
      'signature',
    ],
    ['no signature', 'eyJ9', 1_000, false, 'malformed'],
  ])('%s', (_name, ticket, now, ok, why) => {
    const r = checkTicket(ticketKey(signer.publicKey), ticket, now);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.why).toContain(why);
    else expect(r.payload).toEqual(payload);
  });
});

/** Opens a raw tracker connection, sends a join, and returns the first answer. */
async function rawJoin(url: string, msg: ClientMessage): Promise<{ type: string; code?: string }> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(encodeMessage(msg));
  const answer = await new Promise<{ type: string; code?: string }>((resolve) => {
    ws.once('message', (data) => {
      const parsed = parseServerMessage(data as Buffer);
      resolve(parsed.ok ? (parsed.message as { type: string; code?: string }) : { type: 'unparsable' });
    });
    ws.once('close', () => resolve({ type: 'closed' }));
  });
  ws.close();
  return answer;
}

describe('admission at a server', () => {
  let server: RunningServer;
  let secretServer: RunningServer;
  beforeAll(async () => {
    const dir = () => mkdtemp(join(tmpdir(), 'swarmcast-tickets-'));
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      dataDir: await dir(),
      log: silentLogger(),
    });
    secretServer = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      demo: true,
      seedSecret: 'sekret',
      dataDir: await dir(),
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    await server?.close();
    await secretServer?.close();
  });

  const channelInfo = async (s: RunningServer, query = '', headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.httpUrl}/api/channels/demo${query}`, { headers });
    return {
      status: res.status,
      info: res.ok ? (channelInfoSchema.parse(await res.json()) as ComChannelInfo) : null,
    };
  };

  it('hands each viewer its own peer id and ticket, which the tracker accepts for that id only', async () => {
    const a = (await channelInfo(server)).info!;
    const b = (await channelInfo(server)).info!;
    expect(a.peer.id).not.toBe(b.peer.id);
    const base = {
      type: 'join' as const,
      channel: 'demo',
      subRoom: a.tracker.subRoom,
      role: 'viewer' as const,
    };
    expect(await rawJoin(server.trackerUrl, { ...base, peerId: a.peer.id })).toMatchObject({
      code: 'no-ticket',
    });
    expect(
      await rawJoin(server.trackerUrl, { ...base, peerId: b.peer.id, ticket: a.peer.ticket }),
    ).toMatchObject({
      code: 'bad-ticket',
    });
    expect(
      await rawJoin(server.trackerUrl, { ...base, peerId: a.peer.id, role: 'seed', ticket: a.peer.ticket }),
    ).toMatchObject({
      code: 'bad-ticket',
    });
    const forged = mintTicket(other, {
      c: 'demo',
      s: base.subRoom,
      p: a.peer.id,
      r: 'viewer',
      e: Date.now() + 60_000,
    });
    expect(await rawJoin(server.trackerUrl, { ...base, peerId: a.peer.id, ticket: forged })).toMatchObject({
      code: 'bad-ticket',
    });
    expect(
      await rawJoin(server.trackerUrl, { ...base, peerId: a.peer.id, ticket: a.peer.ticket }),
    ).toMatchObject({
      type: 'welcome',
    });
  });

  it('gives seed tickets to loopback seeds without a secret, and only for the secret when one is set', async () => {
    expect((await channelInfo(server, '?role=seed')).info!.peer.role).toBe('seed');
    expect((await channelInfo(secretServer, '?role=seed')).status).toBe(403);
    expect((await channelInfo(secretServer, '?role=seed', { authorization: 'Bearer wrong!' })).status).toBe(
      403,
    );
    const seed = await channelInfo(secretServer, '?role=seed', { authorization: 'Bearer sekret' });
    expect(seed.info!.peer.role).toBe('seed');
    expect((await channelInfo(secretServer)).info!.peer.role).toBe('viewer');
  });
});
