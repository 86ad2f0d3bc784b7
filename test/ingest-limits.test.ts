/**
 * HTTP ingest limits: a push that stalls without closing is ended after the idle time and
 * frees its channel for the streamer's next push; ingest answers carry no CORS header (only
 * publishers use it), while the players' API does.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originPaths } from '../common/manifest';
import { silentLogger } from '../server/log';
import { defaultDemoClip, type RunningServer, startServer } from '../server/run-server';
import { removeTempDirs, tempDir } from './support/helpers';

let server: RunningServer;
let clip: Uint8Array;

beforeAll(async () => {
  clip = new Uint8Array(await readFile(defaultDemoClip()));
  server = await startServer({
    httpPort: 0,
    rtmpPort: null,
    stunPort: null,
    dataDir: join(await tempDir(), 'data'),
    demo: false,
    ingestIdleMs: 800,
    log: silentLogger(),
  });
});

afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});

/** A chunked POST that sends `bytes` and then neither sends more nor closes. */
function stalledPush(path: string, bytes: Uint8Array): Promise<{ status: number | null; closed: boolean }> {
  const url = new URL(server.httpUrl);
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? null, closed: true }));
    });
    req.on('error', () => resolve({ status: null, closed: true }));
    req.write(bytes);
  });
}

describe('HTTP ingest limits', () => {
  it('ends a stalled push after the idle time; the next push on that key is accepted', async () => {
    const path = originPaths.ingest('stall');
    const first = stalledPush(path, clip.subarray(0, 60_000));
    const ended = await Promise.race([first, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(ended, 'the stalled push was not ended').not.toBeNull();
    expect(ended!.status === 408 || ended!.status === null).toBe(true);
    const res = await fetch(`${server.httpUrl}${path}`, { method: 'POST', body: clip.subarray(0, 60_000) });
    expect(res.status).not.toBe(409);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends CORS headers to players, not to publishers', async () => {
    const api = await fetch(`${server.httpUrl}${originPaths.channels}`);
    expect(api.headers.get('access-control-allow-origin')).toBe('*');
    const refused = await fetch(`${server.httpUrl}${originPaths.ingest('Bad Key!')}`, {
      method: 'POST',
      body: '',
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const wrongMethod = await fetch(`${server.httpUrl}${originPaths.ingest('x')}`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('access-control-allow-origin')).toBeNull();
  });
});
