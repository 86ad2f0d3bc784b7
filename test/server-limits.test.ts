/**
 * Server limits against one greedy address: held blocking reloads beyond the cap are answered
 * at once, HTTP-FLV streams and tracker connections beyond theirs are refused with 429; and a
 * server reachable beyond loopback takes no publisher without a stream key.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { originPaths } from '../common/manifest';
import { silentLogger } from '../server/log';
import { defaultDemoClip, type RunningServer, startServer } from '../server/run-server';
import { until } from './support/media';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({
    httpPort: 0,
    rtmpPort: null,
    stunPort: null,
    dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-limits-')),
    addressLimits: { heldReloads: 2, flvStreams: 2, trackerConnections: 2, includeLoopback: true },
    log: silentLogger(),
  });
  await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 1, 10_000, 'demo segments');
});

afterAll(async () => {
  await server?.close();
});

function openWs(url: string): Promise<{ ws: WebSocket; status: number | null }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode ?? null }));
    ws.once('error', () => resolve({ ws, status: null }));
  });
}

describe('per-address limits', () => {
  it('answers blocking reloads past the cap at once instead of holding them', async () => {
    const latest = server.origin.channels.get('demo')!.latestSeq!;
    const url = `${server.httpUrl}/live/demo/manifest.json?after=${latest + 2}`;
    const aborts = [new AbortController(), new AbortController()];
    const held = aborts.map((a) => fetch(url, { signal: a.signal }).catch(() => null));
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const third = await fetch(url);
    expect(third.status).toBe(200);
    expect(third.headers.get('cache-control')).toBe('no-cache');
    expect(Date.now() - started).toBeLessThan(1000);
    for (const a of aborts) a.abort();
    await Promise.all(held);
  });

  it('refuses HTTP-FLV streams past the cap with 429, and frees the slot when one ends', async () => {
    const aborts = [new AbortController(), new AbortController()];
    const open = await Promise.all(
      aborts.map((a) => fetch(`${server.httpUrl}/live/demo.flv`, { signal: a.signal })),
    );
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const refused = await fetch(`${server.httpUrl}/live/demo.flv`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    aborts[0]!.abort();
    await until(
      async () => {
        const a = new AbortController();
        const r = await fetch(`${server.httpUrl}/live/demo.flv`, { signal: a.signal });
        a.abort();
        return r.status === 200;
      },
      5000,
      'a freed slot',
    );
    aborts[1]!.abort();
  });

  it('refuses tracker connections past the cap with 429', async () => {
    const a = await openWs(server.trackerUrl);
    const b = await openWs(server.trackerUrl);
    expect([a.status, b.status]).toEqual([101, 101]);
    const c = await openWs(server.trackerUrl);
    expect(c.status).toBe(429);
    a.ws.close();
    await until(
      async () => {
        const d = await openWs(server.trackerUrl);
        d.ws.close();
        return d.status === 101;
      },
      5000,
      'a freed tracker slot',
    );
    b.ws.close();
  });
});

describe('publishing beyond loopback', () => {
  it('needs a stream key when the server listens on every address', async () => {
    const open = await startServer({
      host: '0.0.0.0',
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      demo: false,
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-limits-')),
      log: silentLogger(),
    });
    try {
      const clip = new Uint8Array(await readFile(defaultDemoClip()));
      const res = await fetch(`${open.httpUrl}${originPaths.ingest('mychannel')}`, {
        method: 'POST',
        // Only the FLV header: refused on the request line, a longer body could meet a closed socket.
        body: clip.subarray(0, 13),
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/SWARMCAST_STREAM_KEYS/);
    } finally {
      await open.close();
    }
  });
});
