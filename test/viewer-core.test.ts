/**
 * The viewer core in plain Node against a real origin (demo channel): join, integrity,
 * gateway security and output, gap skipping, two gateways side by side.
 */
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isAacSequenceHeader,
  isAvcSequenceHeader,
  isOnMetaData,
  isVideoKeyframe,
  TAG_VIDEO,
} from '../common/flv';
import type { CoreLog } from '../common/logger';
import type { Core } from '../main/core/viewer-core';
import { startViewerCore } from '../main/core/viewer-core';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import {
  decodeErrors,
  largestVideoGap,
  monotonic,
  probePackets,
  readFlvFor,
  until,
  writeFlv,
} from './support/media';
import { memoryLog } from './support/memory-log';
import { startTamperProxy } from './support/tamper-proxy';

async function core(serverUrl: string, log: CoreLog = memoryLog()): Promise<Core> {
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-core-'));
  return startViewerCore({ dataDir, mode: 'headless', version: 'test', serverUrl, log });
}

function rawGet(port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({
    httpPort: 0,
    rtmpPort: null,
    dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-origin-')),
    log: silentLogger(),
  });
  await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 2, 10_000, 'demo segments');
});

afterAll(async () => {
  await server?.close();
});

describe('viewer core', () => {
  it('joins the demo channel and its gateway stream starts with init data and a keyframe, decodable', async () => {
    const c = await core(server.httpUrl);
    try {
      const opened = c.openPlayer('demo');
      const started = Date.now();
      const flv = await readFlvFor(opened.streamUrl, 3500);
      expect(flv.hasVideo && flv.hasAudio).toBe(true);
      const [meta, avc, aac, first] = flv.tags;
      expect(isOnMetaData(meta!)).toBe(true);
      expect(isAvcSequenceHeader(avc!)).toBe(true);
      expect(isAacSequenceHeader(aac!)).toBe(true);
      expect(first && isVideoKeyframe(first)).toBe(true);
      // The first GOP arrives at once: well over a second of media within the first moments.
      const media = flv.tags.slice(3);
      const spanMs = media[media.length - 1]!.timestamp - media[0]!.timestamp;
      expect(spanMs).toBeGreaterThan(2500);
      expect(Date.now() - started).toBeLessThan(10_000);
      const file = await writeFlv(flv.tags);
      expect(await decodeErrors(file)).toBe('');
      const packets = await probePackets(file);
      expect(packets.filter((p) => p.stream === 'video').length).toBeGreaterThan(60);
      expect(monotonic(packets)).toBe(true);
      expect(packets.find((p) => p.stream === 'video')!.key).toBe(true);
      const stats = c.currentStats();
      expect(stats.state).toBe('live');
      expect(stats.bytesCdn).toBeGreaterThan(100_000);
    } finally {
      await c.close();
    }
  });

  it('refuses a manifest whose signature does not verify, and recovers once it does', async () => {
    const proxy = await startTamperProxy(server.httpUrl);
    const log = memoryLog();
    // Change one hex digit of a segment hash inside every manifest: the signature breaks.
    proxy.rules.rewrite = (path) =>
      path.includes('manifest') || path.startsWith('/api/channels/')
        ? (body) =>
            Buffer.from(
              body
                .toString()
                .replace(/"sha256":"([0-9a-f])/, (_m, d: string) => `"sha256":"${d === 'a' ? 'b' : 'a'}`),
            )
        : null;
    const c = await core(proxy.url, log);
    try {
      const opened = c.openPlayer('demo');
      const statuses: string[] = [];
      c.onEvent((event, payload) => {
        if (event === 'session.status') statuses.push((payload as { state: string }).state);
      });
      await until(() => log.lines.some((l) => l.msg === 'manifest rejected'), 5000, 'rejection');
      expect(statuses).not.toContain('live');
      expect(proxy.requests.some((p) => /\/\d+\.flv$/.test(p))).toBe(false);
      expect(c.player(opened.sessionId)!.session.snapshot().state).toBe('error');
      proxy.rules.rewrite = undefined;
      await until(() => c.player(opened.sessionId)!.session.snapshot().state === 'live', 8000, 'recovery');
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it('discards a segment whose bytes do not match the signed hash and fetches it again', async () => {
    const proxy = await startTamperProxy(server.httpUrl);
    const corrupted = new Set<string>();
    proxy.rules.rewrite = (path) => {
      if (!/\/\d+\.flv$/.test(path) || corrupted.has(path) || corrupted.size >= 3) return null;
      corrupted.add(path);
      return (body) => {
        const copy = Buffer.from(body);
        copy[copy.length >> 1] = copy[copy.length >> 1]! ^ 0xff;
        return copy;
      };
    };
    const log = memoryLog();
    const c = await core(proxy.url, log);
    try {
      const opened = c.openPlayer('demo');
      const session = c.player(opened.sessionId)!.session;
      await until(() => session.hashFailures >= 3, 12_000, 'three hash failures');
      expect(
        log.lines.filter((l) => l.msg.startsWith('segment hash mismatch')).length,
      ).toBeGreaterThanOrEqual(3);
      // Every corrupted segment is requested again, and what ends up verified matches the manifest.
      await until(
        () => [...corrupted].every((p) => proxy.requests.filter((r) => r === p).length >= 2),
        8000,
        'refetches',
      );
      for (const path of corrupted) {
        const seq = Number(/\/(\d+)\.flv$/.exec(path)![1]);
        await until(() => session.isLost(seq) || session.entry(seq) !== undefined, 5000, `entry ${seq}`);
      }
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it('skips a segment the CDN cannot deliver to the next keyframe instead of stalling', async () => {
    const proxy = await startTamperProxy(server.httpUrl);
    const demo = server.origin.channels.get('demo')!;
    const missing = (demo.latestSeq ?? 0) + 3;
    proxy.rules.withhold = (path) => path.endsWith(`/${missing}.flv`);
    const log = memoryLog();
    const c = await core(proxy.url, log);
    try {
      const opened = c.openPlayer('demo');
      const flv = await readFlvFor(opened.streamUrl, 9000);
      expect(log.lines.some((l) => l.msg === 'gateway skipped to the next keyframe')).toBe(true);
      const missingStart = demo.segments.find((s) => s.seq === missing)?.startTs;
      const video = flv.tags.filter((t) => t.type === TAG_VIDEO);
      // Playback continues past the hole, and the hole shows as a jump in timestamps.
      expect(largestVideoGap(flv.tags)).toBeGreaterThanOrEqual(900);
      if (missingStart !== undefined)
        expect(video[video.length - 1]!.timestamp).toBeGreaterThan(missingStart + 1500);
      const file = await writeFlv(flv.tags);
      expect(await decodeErrors(file)).toBe('');
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it('guards the gateway with its token and the Host header; two gateways run side by side', async () => {
    const a = await core(server.httpUrl);
    const b = await core(server.httpUrl);
    try {
      const pa = a.openPlayer('demo');
      const pb = b.openPlayer('demo');
      const ua = new URL(pa.streamUrl);
      const ub = new URL(pb.streamUrl);
      expect(ua.port).not.toBe(ub.port);
      const port = Number(ua.port);
      const path = ua.pathname;
      const wrongToken = path.replace(/^\/[^/]+/, '/not-the-token');
      expect(await rawGet(port, path, `127.0.0.1:${port}`)).toBe(200);
      expect(await rawGet(port, path, `localhost:${port}`)).toBe(200);
      expect(await rawGet(port, path, `evil.example:${port}`)).toBe(403);
      expect(await rawGet(port, path, `127.0.0.1:${port + 1}`)).toBe(403);
      expect(await rawGet(port, wrongToken, `127.0.0.1:${port}`)).toBe(403);
      // b's token is no key to a's gateway.
      expect(await rawGet(port, ub.pathname, `127.0.0.1:${port}`)).toBe(403);
      expect(
        await rawGet(port, path.replace(/[a-f0-9]+\.flv$/, '0000000000000000.flv'), `127.0.0.1:${port}`),
      ).toBe(404);
      const [fa, fb] = await Promise.all([readFlvFor(pa.streamUrl, 2500), readFlvFor(pb.streamUrl, 2500)]);
      expect(fa.tags.length).toBeGreaterThan(50);
      expect(fb.tags.length).toBeGreaterThan(50);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('validates every call from the renderer against the contract', async () => {
    const c = await core(server.httpUrl);
    try {
      await expect(c.invoke('no.such.call', {})).rejects.toThrow(/unknown call/);
      await expect(c.invoke('player.open', { channel: '../etc' })).rejects.toThrow(/invalid player.open/);
      await expect(c.invoke('player.open', { channel: 'demo', extra: 1 })).rejects.toThrow(/invalid/);
      await expect(c.invoke('settings.set', { liveSync: { targetLatencyS: -1 } })).rejects.toThrow(/invalid/);
      const list = (await c.invoke('channels.list', {})) as { channels: Array<{ id: string }> };
      expect(list.channels[0]!.id).toBe('demo');
    } finally {
      await c.close();
    }
  });

  it('tells the entry point when a played channel starts and stops fetching without peers', async () => {
    const calls: boolean[] = [];
    const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-core-'));
    const c = await startViewerCore({
      dataDir,
      mode: 'headless',
      version: 'test',
      serverUrl: server.httpUrl,
      onCdnOnly: (cdnOnly) => calls.push(cdnOnly),
      log: memoryLog(),
    });
    try {
      // A player reading the stream all along: the channel stays played.
      const reading = readFlvFor(c.openPlayer('demo').streamUrl, 6000);
      await until(() => calls.length > 0, 3000, 'told at the first pass');
      expect(calls).toEqual([false]); // P2P on, normal latency: with peers
      await c.invoke('settings.set', { latencyMode: 'low' });
      await until(() => calls.at(-1) === true, 2000, 'told: without peers');
      await c.invoke('settings.set', { latencyMode: 'normal' });
      await until(() => calls.at(-1) === false, 2000, 'told: with peers again');
      expect(calls).toEqual([false, true, false]);
      await reading;
    } finally {
      await c.close();
    }
  });

  it('refuses a replayed older manifest (validly signed, but stale)', async () => {
    const proxy = await startTamperProxy(server.httpUrl);
    let first: Buffer | null = null;
    let seen = 0;
    let replays = 0;
    proxy.rules.rewrite = (path) => {
      if (!/manifests?\.(json|ndjson)/.test(path)) return null;
      return (body) => {
        seen++;
        if (!first) first = body;
        // The viewer sees the first two manifests as they are (reloaded or streamed), then the first again, and again.
        if (seen <= 2) return body;
        replays++;
        return first;
      };
    };
    const log = memoryLog();
    const c = await core(proxy.url, log);
    try {
      c.openPlayer('demo');
      await until(() => replays >= 2, 10_000, 'replays');
      await until(
        () =>
          log.lines.some(
            (l) => l.msg === 'manifest rejected' && /older than the last/.test(String(l.fields?.reason)),
          ),
        5000,
        'stale manifest refused',
      );
    } finally {
      await c.close();
      await proxy.close();
    }
  });

  it('ends every player session at once when the page that opened them goes away', async () => {
    const c = await core(server.httpUrl);
    try {
      const closed: string[] = [];
      c.onEvent((event, payload) => {
        const p = payload as { sessionId: string; state: string };
        if (event === 'session.status' && p.state === 'closed') closed.push(p.sessionId);
      });
      const a = c.openPlayer('demo');
      const b = c.openPlayer('demo');
      c.closeAllPlayers('renderer gone');
      expect(closed.sort()).toEqual([a.sessionId, b.sessionId].sort());
      expect(c.player(a.sessionId)).toBeNull();
      expect(c.currentStats().sessionId).toBeNull();
    } finally {
      await c.close();
    }
  });
});
