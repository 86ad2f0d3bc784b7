/**
 * The manifest stream (GET /live/:ch/manifests.ndjson): what the origin writes (a verified
 * manifest a line, each as its segment appears, the last one when the channel goes off the
 * air), what the viewer's reader does with lines that do not verify or do not come, and how a
 * viewer follows it: one held request instead of a reload a second, and reloads again where an
 * origin or a proxy does not offer it.
 */

import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Manifest, originPaths } from '../common/manifest';
import { followManifestStream, ManifestStreamSilent } from '../main/core/manifest/manifest-stream';
import { OriginError } from '../main/core/manifest/origin-http';
import { loadPublicKey, ManifestRejected } from '../main/core/manifest/signed-manifest';
import { startViewerCore } from '../main/core/viewer-core';
import { silentLogger } from '../server/log';
import type { Channel } from '../server/origin/channel';
import { type RunningServer, startServer } from '../server/run-server';
import { DEMO_FLV, flvPrefix } from './support/helpers';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';
import { startTamperProxy } from './support/tamper-proxy';

let server: RunningServer;
let demo: Channel;
const key = () => loadPublicKey(server.origin.publicKey);
const streamUrl = (base: string, channel: string, after: number | string) =>
  `${base}${originPaths.manifestStream(channel)}?after=${after}`;

beforeAll(async () => {
  server = await startServer({
    httpPort: 0,
    rtmpPort: null,
    dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-origin-')),
    log: silentLogger(),
  });
  demo = server.origin.channels.get('demo')!;
  await until(() => (demo.latestSeq ?? -1) >= 1, 10_000, 'demo segments');
});

afterAll(async () => {
  await server?.close();
});

interface Followed {
  /** The manifests as they came, each with its arrival time. */
  got: Array<{ m: Manifest; at: number }>;
  /** Settles when the stream ends: null when the server ended it or `enough` came, else the error. */
  done: Promise<unknown>;
}

/** Follows the stream at `url` (each line verified against the last); aborts it once `enough` came. */
function follow(url: string, channel: string, o: { enough?: number; idleMs?: number } = {}): Followed {
  const got: Followed['got'] = [];
  const abort = new AbortController();
  const done = followManifestStream(url, {
    key: key(),
    channel,
    previous: () => got.at(-1)?.m ?? null,
    signal: AbortSignal.any([abort.signal, AbortSignal.timeout(20_000)]),
    idleMs: o.idleMs ?? 15_000,
    each: async (m) => {
      got.push({ m, at: Date.now() });
      if (got.length >= (o.enough ?? Number.POSITIVE_INFINITY)) abort.abort();
    },
  }).then(
    () => null,
    (err: unknown) => (abort.signal.aborted ? null : err),
  );
  return { got, done };
}

describe('manifest stream: the origin', () => {
  it('writes the manifest at once, then each new one as its segment appears, every line verified', async () => {
    const latest = demo.latestSeq!;
    const { got, done } = follow(streamUrl(server.httpUrl, 'demo', latest - 1), 'demo', { enough: 3 });
    expect(await done).toBeNull();
    const lastSeqs = got.map((g) => g.m.segments.at(-1)!.seq);
    expect(lastSeqs[0]).toBeGreaterThanOrEqual(latest);
    expect(lastSeqs[1]).toBe(lastSeqs[0]! + 1);
    expect(lastSeqs[2]).toBe(lastSeqs[1]! + 1);
    // About a segment's duration apart: written as the segment appeared, not in a burst.
    expect(got[2]!.at - got[1]!.at).toBeGreaterThan(500);
    expect(got.every((g) => g.m.live && g.m.channel === 'demo')).toBe(true);
  });

  it('answers 400 to a junk `after`, 404 to an unknown channel', async () => {
    for (const junk of ['abc', '-5', '1.5']) {
      const status = await new Promise<number>((resolve, reject) => {
        request(streamUrl(server.httpUrl, 'demo', junk), (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status, `after=${junk}`).toBe(400);
    }
    const err = await follow(streamUrl(server.httpUrl, 'nobody', -1), 'nobody').done;
    expect(err).toBeInstanceOf(OriginError);
    expect((err as OriginError).status).toBe(404);
  });

  it('ends after the manifest that says the channel went off the air', async () => {
    const clip = new Uint8Array(await readFile(DEMO_FLV));
    // A push of the clip's first 300 tags (a few segments), held open: the channel is live.
    const push = request(`${server.httpUrl}${originPaths.ingest('brief')}`, {
      method: 'POST',
      headers: { 'Transfer-Encoding': 'chunked' },
    });
    push.on('error', () => {});
    push.on('response', (res) => res.resume());
    push.write(flvPrefix(clip, 300));
    await until(() => (server.origin.channels.get('brief')?.latestSeq ?? -1) >= 0, 10_000, 'a brief segment');
    const followed = follow(streamUrl(server.httpUrl, 'brief', -1), 'brief');
    await until(() => followed.got.length >= 1, 5000, 'the first line');
    push.end();
    expect(await followed.done).toBeNull(); // the origin ended the stream
    expect(followed.got[0]!.m.live).toBe(true);
    expect(followed.got.at(-1)!.m.live).toBe(false);
    // Once off the air, a new stream is the one manifest, and ends.
    const after = follow(streamUrl(server.httpUrl, 'brief', -1), 'brief');
    expect(await after.done).toBeNull();
    expect(after.got.map((g) => g.m.live)).toEqual([false]);
  });
});

describe('manifest stream: the reader', () => {
  /** A server whose stream handler the test writes. */
  async function fakeOrigin(handle: Parameters<typeof createServer>[1]) {
    const s = createServer(handle);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const addr = s.address();
    const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    return {
      base,
      close: () => {
        s.closeAllConnections();
        return new Promise<void>((r) => s.close(() => r()));
      },
    };
  }

  it('rejects a line that does not verify (ManifestRejected), and a stream that goes silent', async () => {
    const genuine = await (await fetch(`${server.httpUrl}${originPaths.manifest('demo')}`)).text();
    const forged = genuine.replace(
      /"sha256":"([0-9a-f])/,
      (_m, c: string) => `"sha256":"${c === '0' ? '1' : '0'}`,
    );
    const lines: string[] = [];
    const o = await fakeOrigin((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const l of lines) res.write(`${l}\n`);
    });
    try {
      lines.push(genuine, forged);
      const bad = follow(streamUrl(o.base, 'demo', -1), 'demo', { idleMs: 5000 });
      expect(await bad.done).toBeInstanceOf(ManifestRejected);
      expect(bad.got.length).toBe(1);
      lines.length = 0;
      const started = Date.now();
      const silent = follow(streamUrl(o.base, 'demo', -1), 'demo', { idleMs: 300 });
      expect(await silent.done).toBeInstanceOf(ManifestStreamSilent);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await o.close();
    }
  });
});

describe('manifest stream: a viewer following it', () => {
  async function viewerVia(proxyUrl: string) {
    return startViewerCore({
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-core-')),
      mode: 'headless',
      version: 'test',
      serverUrl: proxyUrl,
      log: memoryLog(),
    });
  }

  it('holds one request instead of reloading every second', async () => {
    const proxy = await startTamperProxy(server.httpUrl);
    const c = await viewerVia(proxy.url);
    const count = (re: RegExp, from = 0) => proxy.requests.slice(from).filter((p) => re.test(p)).length;
    try {
      const opened = c.openPlayer('demo');
      await until(() => c.currentStats().state === 'live', 10_000, 'live');
      const mark = proxy.requests.length;
      const latest = demo.latestSeq!;
      await until(() => (demo.latestSeq ?? 0) >= latest + 4, 10_000, 'four more segments');
      const session = c.player(opened.sessionId)!.session;
      await until(() => (session.latestSeq ?? 0) >= latest + 4, 3000, 'the viewer to know them');
      expect(count(/manifests\.ndjson/)).toBeGreaterThanOrEqual(1);
      expect(count(/manifests\.ndjson/, mark)).toBeLessThanOrEqual(1);
      expect(count(/manifest\.json/, mark)).toBe(0);
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it('reloads the manifest where the stream is not offered (an older origin, a CDN), and keeps up', async () => {
    const proxy = await startTamperProxy(server.httpUrl);
    proxy.rules.withhold = (path) => path.includes('manifests.ndjson');
    const c = await viewerVia(proxy.url);
    const count = (re: RegExp) => proxy.requests.filter((p) => re.test(p)).length;
    try {
      const opened = c.openPlayer('demo');
      await until(() => c.currentStats().state === 'live', 10_000, 'live');
      const session = c.player(opened.sessionId)!.session;
      const latest = demo.latestSeq!;
      await until(() => (session.latestSeq ?? 0) >= latest + 3, 8000, 'the reloads to follow the channel');
      expect(count(/manifests\.ndjson/)).toBe(1);
      expect(count(/manifest\.json/)).toBeGreaterThanOrEqual(3);
    } finally {
      await c.close();
      await proxy.close();
    }
  });
});
