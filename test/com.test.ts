/**
 * The COM service over real HTTP, inside startServer: the channel-info answer validates against
 * common/com.ts, its URLs follow the Host header or the public URL, its manifest verifies, the
 * tracker on the same HTTP server takes the sub-room it names, seeds show up, and sub-rooms
 * split at the configured size. Also the `swarmcast server` flags end to end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoPath, channelInfoSchema } from '../common/com';
import { ComClient } from '../main/core/manifest/com-client';
import { loadPublicKey, verifySignedManifest } from '../main/core/manifest/signed-manifest';
import { TrackerClient } from '../main/p2p/tracker-client';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString() || 'null'),
          headers: res.headers,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function info(port: number, path: string, headers?: Record<string, string>): Promise<ComChannelInfo> {
  const res = await get(port, path, headers);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return channelInfoSchema.parse(res.body);
}

/** A tracker client joining with the peer id and ticket the COM handed out. */
function tracker(url: string, peer: ComChannelInfo['peer'], subRoom: string) {
  return new TrackerClient({
    url,
    channel: 'demo',
    subRoom,
    peerId: peer.id,
    role: peer.role,
    ticket: peer.ticket,
    log: memoryLog(),
  });
}

async function dataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'swarmcast-com-'));
}

describe('COM service in startServer (defaults)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: 0,
      dataDir: await dataDir(),
      log: silentLogger(),
    });
    await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 0, 10_000, 'a demo segment');
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers the full channel info, with URLs from the Host header', async () => {
    const port = server.httpPort;
    const res = await get(port, '/api/channels/demo');
    expect(res.headers['cache-control']).toBe('no-store');
    const body = channelInfoSchema.parse(res.body);
    expect(body).toMatchObject({
      channel: 'demo',
      live: true,
      publicKey: server.origin.publicKey,
      originBaseUrl: `http://127.0.0.1:${port}`,
      iceServers: [{ urls: [`stun:127.0.0.1:${server.stunPort}`] }],
      // The server names its own log server when none is configured.
      logServers: [`http://127.0.0.1:${port}`],
      seeds: [],
      tracker: { url: `ws://127.0.0.1:${port}/tracker`, subRoom: 's0' },
    });
    expect(server.trackerUrl).toBe(body.tracker.url);
    // The spliced manifest is the origin's, and it verifies.
    const manifest = verifySignedManifest(body.manifest, loadPublicKey(body.publicKey), 'demo');
    expect(manifest.segments.length).toBeGreaterThan(0);

    const named = await info(port, '/api/channels/demo', { host: 'swarm.example.net:8443' });
    expect(named.originBaseUrl).toBe('http://swarm.example.net:8443');
    expect(named.tracker.url).toBe('ws://swarm.example.net:8443/tracker');
    expect(named.iceServers).toEqual([{ urls: [`stun:swarm.example.net:${server.stunPort}`] }]);
    const v6 = await info(port, '/api/channels/demo', { host: '[::1]:9000' });
    expect(v6.tracker.url).toBe('ws://[::1]:9000/tracker');
    expect(v6.iceServers[0]!.urls).toEqual([`stun:[::1]:${server.stunPort}`]);
    // A Host header that is not a host name falls back to the address the request came in on.
    const odd = await info(port, '/api/channels/demo', { host: 'evil"/><x' });
    expect(odd.originBaseUrl).toBe(`http://127.0.0.1:${port}`);
  });

  it('keeps the viewer client working (the answer is a superset of the minimal info)', async () => {
    const ci = await new ComClient(server.httpUrl).channelInfo('demo');
    expect(ci.manifest.channel).toBe('demo');
  });

  it('refuses unknown channels and bad hints; other origin routes still work', async () => {
    expect((await get(server.httpPort, '/api/channels/nope')).status).toBe(404);
    expect((await get(server.httpPort, '/api/channels/..%2Fetc')).status).toBe(404);
    expect((await get(server.httpPort, `/api/channels/demo?isp=${'x'.repeat(65)}`)).status).toBe(400);
    expect((await get(server.httpPort, '/api/channels/demo?region=%0A')).status).toBe(400);
    const list = await get(server.httpPort, '/api/channels');
    expect(list.status).toBe(200);
    expect((await get(server.httpPort, '/live/demo/manifest.json')).status).toBe(200);
  });

  it('names a tracker on the same HTTP server, and lists the seeds of the sub-room', async () => {
    const first = await info(server.httpPort, channelInfoPath('demo', { isp: 'ispa', region: 'eu' }));
    const seedInfo = await info(server.httpPort, channelInfoPath('demo', { role: 'seed' }));
    expect(seedInfo.peer.role).toBe('seed');
    expect(first.peer.role).toBe('viewer');
    const seed = tracker(first.tracker.url, seedInfo.peer, first.tracker.subRoom);
    const viewer = tracker(first.tracker.url, first.peer, first.tracker.subRoom);
    try {
      await Promise.all([seed.connect(), viewer.connect()]);
      expect((await viewer.neighbours(4)).map((p) => p.peerId)).toEqual([seedInfo.peer.id]);
      const next = await info(server.httpPort, '/api/channels/demo');
      expect(next.tracker.subRoom).toBe('s0');
      expect(next.seeds).toEqual([seedInfo.peer.id]);
    } finally {
      await Promise.all([seed.close(), viewer.close()]);
    }
  });
});

describe('COM service with a public URL, TURN, log servers and sub-room splitting', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: 0,
      dataDir: await dataDir(),
      publicUrl: 'https://cdn.example.com/sc/',
      turn: { urls: ['turn:turn.example.com:3478?transport=udp'], username: 'u', credential: 'p' },
      logServers: ['https://logs.example.com/report'],
      subRoomSize: 2,
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers with the public URLs and the TURN credentials', async () => {
    const body = await info(server.httpPort, '/api/channels/demo', { host: '127.0.0.1' });
    expect(body).toMatchObject({
      originBaseUrl: 'https://cdn.example.com/sc',
      tracker: { url: 'wss://cdn.example.com/sc/tracker', subRoom: 's0' },
      iceServers: [
        { urls: [`stun:cdn.example.com:${server.stunPort}`] },
        { urls: ['turn:turn.example.com:3478?transport=udp'], username: 'u', credential: 'p' },
      ],
      logServers: ['https://logs.example.com/report'],
    });
  });

  it('opens a new sub-room when one is full, counting joined viewers once', async () => {
    // The first test's viewer is pending in s0 (assigned, not joined): one place left there.
    const a = await info(server.httpPort, '/api/channels/demo');
    expect(a.tracker.subRoom).toBe('s0');
    // The sub-room's size as placed (the player's normal-mode target follows it).
    expect(a.tracker.viewers).toBe(2);
    const b = await info(server.httpPort, '/api/channels/demo');
    expect(b.tracker.subRoom).toBe('s1');
    expect(b.tracker.viewers).toBe(1);
    // Viewers that join their sub-room are counted by the tracker instead of as pending.
    const joined = [tracker(server.trackerUrl, b.peer, 's1')];
    try {
      await joined[0]!.connect();
      const c = await info(server.httpPort, '/api/channels/demo');
      expect(c.tracker.subRoom).toBe('s1');
      const d = await info(server.httpPort, '/api/channels/demo');
      expect(d.tracker.subRoom).toBe('s2');
    } finally {
      await Promise.all(joined.map((j) => j.close()));
    }
  });
});

describe('swarmcast server flags', () => {
  let child: ChildProcess | null = null;
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('wires --stun-port, --public-url, --turn*, SWARMCAST_TURN_PASSWORD, --sub-room-size into the COM answer', async () => {
    child = spawn(
      process.execPath,
      [
        'bin/swarmcast.mjs',
        'server',
        '--host',
        '127.0.0.1',
        '--http-port',
        '0',
        '--no-rtmp',
        '--stun-port',
        '0',
        '--data',
        await dataDir(),
        '--public-url',
        'http://viewers.example.org:8080',
        '--turn',
        'turn:relay.example.org:3478',
        '--turn-user',
        'alice',
        '--sub-room-size',
        '1',
      ],
      {
        cwd: join(import.meta.dirname, '..'),
        stdio: ['ignore', 'pipe', 'ignore'],
        // Secrets never go on the command line (server/config.ts): the TURN password comes from env.
        env: { ...process.env, SWARMCAST_LOG_LEVEL: 'silent', SWARMCAST_TURN_PASSWORD: 'secret' },
      },
    );
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<{ httpPort: number; stunPort: number; tracker: string }>(
      (resolve, reject) => {
        lines.once('line', (line) => resolve(JSON.parse(line)));
        child!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      },
    );
    expect(ready.stunPort).toBeGreaterThan(0);
    const a = await info(ready.httpPort, '/api/channels/demo');
    const b = await info(ready.httpPort, '/api/channels/demo');
    expect(a).toMatchObject({
      originBaseUrl: 'http://viewers.example.org:8080',
      tracker: { url: 'ws://viewers.example.org:8080/tracker', subRoom: 's0' },
      iceServers: [
        { urls: [`stun:viewers.example.org:${ready.stunPort}`] },
        { urls: ['turn:relay.example.org:3478'], username: 'alice', credential: 'secret' },
      ],
    });
    expect(b.tracker.subRoom).toBe('s1');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = null;
  });
});
