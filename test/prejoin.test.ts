/**
 * Pre-join (zapping): the core keeps hovered / next / previous channels warm with channel info,
 * manifest, init and the newest GOPs in a small cache, without peers or upload, within bounds
 * (three channels, a 16 MB cache each, about one manifest and one segment request a second, a
 * time to live), drops them at once when told, and hands them to a player that opens them; a
 * warm player (started on hover, ahead of the click) stays as pre-joined until committed.
 * The preview URL serves keyframes only, video only.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlvDemuxer, isAvcSequenceHeader, isVideoKeyframe, TAG_AUDIO, TAG_VIDEO } from '../common/flv';
import type { Core } from '../main/core/viewer-core';
import { startViewerCore } from '../main/core/viewer-core';
import { silentLogger } from '../server/log';
import { loadDemoClip, startDemoLoop } from '../server/origin/demo-source';
import { defaultDemoClip, type RunningServer, startServer } from '../server/run-server';
import { readFlvFor, until } from './support/media';
import { memoryLog } from './support/memory-log';
import { startTamperProxy, type TamperProxy } from './support/tamper-proxy';

let server: RunningServer;

async function core(serverUrl: string, warmTtlMs?: number): Promise<Core> {
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-prejoin-'));
  return startViewerCore({
    dataDir,
    mode: 'headless',
    version: 'test',
    serverUrl,
    log: memoryLog(),
    warmTtlMs,
  });
}

const tracked = (channel: string) => {
  let n = 0;
  for (const occ of server.tracker.occupancy(channel).values()) n += occ.viewers;
  return n;
};

beforeAll(async () => {
  server = await startServer({
    httpPort: 0,
    rtmpPort: null,
    stunPort: 0,
    dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-prejoin-origin-')),
    log: silentLogger(),
  });
  await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 3, 15_000, 'demo segments');
});

afterAll(async () => {
  await server?.close();
});

describe('pre-join', () => {
  let proxy: TamperProxy;
  let c: Core;
  beforeAll(async () => {
    proxy = await startTamperProxy(server.httpUrl);
    c = await core(proxy.url);
  });
  afterAll(async () => {
    await c?.close();
    await proxy?.close();
  });

  it('warms a channel with a bounded number of requests, no peers and a small cache, and drops it at once', async () => {
    const answer = (await c.invoke('channels.prejoin', { channels: ['demo'] })) as {
      channels: Array<{ channel: string; previewUrl: string }>;
    };
    expect(answer.channels.map((x) => x.channel)).toEqual(['demo']);
    expect(answer.channels[0]!.previewUrl).toMatch(/\/preview\/demo\.flv$/);
    const warmedAt = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    const seconds = (Date.now() - warmedAt) / 1000;
    const [warm] = c.joinedChannels();
    expect(warm).toMatchObject({ channel: 'demo', warm: true, players: 0, hasSwarm: false });
    expect(warm!.cacheBudget).toBe(16 * 1024 * 1024);
    expect(warm!.cacheBytes).toBeGreaterThan(0);
    expect(warm!.cacheBytes).toBeLessThanOrEqual(warm!.cacheBudget);
    expect(tracked('demo')).toBe(0);
    const reqs = [...proxy.requests];
    const count = (re: RegExp) => reqs.filter((p) => re.test(p)).length;
    expect(count(/^\/api\/channels\/demo/)).toBe(1);
    expect(count(/\/init-\d+\.flv$/)).toBe(1);
    // About one blocking reload and one segment a second, plus the start-up fetches and the
    // live edge's next segment, asked for ahead (held by the origin until its cut begins).
    expect(count(/manifest\.json/)).toBeLessThanOrEqual(Math.ceil(seconds) + 3);
    expect(count(/\/\d+\.flv$/)).toBeLessThanOrEqual(Math.ceil(seconds) + 6);
    expect(count(/tracker/)).toBe(0);

    // The preview: an FLV of video keyframes only, behind a video-only header.
    const flv = await readFlvFor(answer.channels[0]!.previewUrl, 2500);
    expect(flv.hasAudio).toBe(false);
    const video = flv.tags.filter((t) => t.type === TAG_VIDEO);
    expect(video.length).toBeGreaterThanOrEqual(2);
    expect(video.every((t) => isAvcSequenceHeader(t) || isVideoKeyframe(t))).toBe(true);
    expect(flv.tags.some((t) => t.type === TAG_AUDIO)).toBe(false);

    // Cancelled: gone at once, and no request after that.
    await c.invoke('channels.prejoin', { channels: [] });
    expect(c.joinedChannels()).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const after = proxy.requests.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(proxy.requests.slice(after)).toEqual([]);
  }, 20_000);

  it('keeps at most three channels warm and refuses a longer list', async () => {
    await expect(c.invoke('channels.prejoin', { channels: ['a', 'b', 'c', 'd'] })).rejects.toThrow(
      /invalid channels\.prejoin request/,
    );
    await c.invoke('channels.prejoin', { channels: ['demo', 'nope1', 'nope2'] });
    expect(c.joinedChannels()).toHaveLength(3);
    // A settings change leaves warm channels warm: small cache, no swarm.
    await c.invoke('settings.set', { cacheMB: 128, p2pEnabled: true });
    for (const j of c.joinedChannels())
      expect(j).toMatchObject({ cacheBudget: 16 * 1024 * 1024, hasSwarm: false });
    await c.invoke('channels.prejoin', { channels: [] });
    expect(c.joinedChannels()).toHaveLength(0);
  });
});

describe('channel switch on the same player', () => {
  it('goes on with the next channel in the same response: one FLV stream, timestamps carried on', async () => {
    const clip = await loadDemoClip(defaultDemoClip());
    const sink = server.origin.resolvePublish('zap-b', 'test');
    if (typeof sink === 'string') throw new Error(sink);
    const loop = startDemoLoop(clip, sink);
    const c = await core(server.httpUrl);
    try {
      await until(
        () => (server.origin.channels.get('zap-b')?.latestSeq ?? -1) >= 2,
        10_000,
        'zap-b on the air',
      );
      await c.invoke('channels.prejoin', { channels: ['zap-b'] });
      const opened = c.openPlayer('demo');
      const res = await fetch(opened.streamUrl);
      const reader = res.body!.getReader();
      const chunks: Uint8Array[] = [];
      // A read still pending when a wait times out is kept for the next round: dropping it
      // would lose its chunk and cut the stream mid-tag.
      let pending: ReturnType<typeof reader.read> | null = null;
      const readFor = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          pending ??= reader.read();
          const r = await Promise.race([pending, new Promise<null>((ok) => setTimeout(() => ok(null), 200))]);
          if (!r) continue;
          pending = null;
          if (r.done) return;
          chunks.push(r.value);
        }
      };
      await readFor(1500);
      const before = chunks.reduce((n, b) => n + b.length, 0);
      const answer = (await c.invoke('player.switch', { sessionId: opened.sessionId, channel: 'zap-b' })) as {
        spliced: boolean;
        switchAtS: number;
      };
      expect(answer.spliced).toBe(true);
      expect(answer.switchAtS).toBeGreaterThan(0);
      await readFor(1500);
      await reader.cancel();
      expect(chunks.reduce((n, b) => n + b.length, 0)).toBeGreaterThan(before);
      // One FLV header, then tags only; video timestamps never go back across the switch.
      const demux = new FlvDemuxer();
      const tags = chunks.flatMap((b) => demux.push(b));
      const video = tags.filter((t) => t.type === TAG_VIDEO).map((t) => t.timestamp);
      for (let i = 1; i < video.length; i++) expect(video[i]!).toBeGreaterThanOrEqual(video[i - 1]! - 100);
      expect(c.joinedChannels().find((j) => j.channel === 'zap-b')).toMatchObject({ players: 1 });
      expect(c.joinedChannels().find((j) => j.channel === 'demo')).toBeUndefined();
      // Nothing to splice into: the same channel, or an unknown session.
      expect(await c.invoke('player.switch', { sessionId: opened.sessionId, channel: 'zap-b' })).toEqual({
        spliced: false,
        switchAtS: null,
      });
      c.closePlayer(opened.sessionId);
    } finally {
      await c.close();
      loop.stop();
    }
  }, 30_000);
});

describe('pre-join hand-over and expiry', () => {
  it('hands a warm channel to a player, which then starts its swarm, and forgets the hold', async () => {
    const c = await core(server.httpUrl);
    try {
      await c.invoke('channels.prejoin', { channels: ['demo'] });
      await until(() => c.joinedChannels()[0]?.warm === true, 5000, 'warm');
      await new Promise((r) => setTimeout(r, 1500));
      expect(tracked('demo')).toBe(0);
      const opened = c.openPlayer('demo');
      expect(c.joinedChannels()).toMatchObject([{ channel: 'demo', warm: true, players: 1 }]);
      expect(c.joinedChannels()[0]!.cacheBudget).toBe(96 * 1024 * 1024);
      // The first GOP comes from the warm cache: the stream starts with data at once.
      const flv = await readFlvFor(opened.streamUrl, 1500);
      expect(flv.tags.some((t) => isVideoKeyframe(t))).toBe(true);
      await until(() => tracked('demo') === 1, 10_000, 'the opened channel joins its swarm');
      // Dropping the warm set leaves the played channel alone.
      await c.invoke('channels.prejoin', { channels: [] });
      expect(c.joinedChannels()).toMatchObject([{ channel: 'demo', warm: false, players: 1 }]);
      // Switched away from but kept warm (it is the previous channel now): its swarm stops.
      await c.invoke('channels.prejoin', { channels: ['demo'] });
      c.closePlayer(opened.sessionId);
      expect(c.joinedChannels()).toMatchObject([
        { channel: 'demo', warm: true, players: 0, hasSwarm: false },
      ]);
      await until(() => tracked('demo') === 0, 10_000, 'the swarm left');
      await c.invoke('channels.prejoin', { channels: [] });
      expect(c.joinedChannels()).toEqual([]);
    } finally {
      await c.close();
    }
  }, 25_000);

  it('a warm player (started on hover) plays the channel as pre-joined until committed', async () => {
    const c = await core(server.httpUrl);
    try {
      const warm = (await c.invoke('player.open', { channel: 'demo', warm: true })) as {
        sessionId: string;
        streamUrl: string;
      };
      // It plays, from a small cache, meeting no peers.
      const flv = await readFlvFor(warm.streamUrl, 1500);
      expect(flv.tags.some((t) => isVideoKeyframe(t))).toBe(true);
      expect(c.joinedChannels()).toMatchObject([{ channel: 'demo', players: 0, hasSwarm: false }]);
      expect(c.joinedChannels()[0]!.cacheBudget).toBe(16 * 1024 * 1024);
      await new Promise((r) => setTimeout(r, 1500));
      expect(tracked('demo')).toBe(0);
      // Nothing to splice into while warm; the click commits it: full cache and the swarm.
      expect(c.switchPlayer(warm.sessionId, 'demo')).toEqual({ spliced: false, switchAtS: null });
      expect(await c.invoke('player.commit', { sessionId: warm.sessionId })).toEqual({ committed: true });
      expect(c.joinedChannels()).toMatchObject([{ channel: 'demo', players: 1 }]);
      expect(c.joinedChannels()[0]!.cacheBudget).toBe(96 * 1024 * 1024);
      await until(() => tracked('demo') === 1, 10_000, 'the committed channel joins its swarm');
      c.closePlayer(warm.sessionId);
      expect(c.joinedChannels()).toEqual([]);
      // A warm player the pointer left is closed without ever joining; an unknown id is refused.
      const passing = (await c.invoke('player.open', { channel: 'demo', warm: true })) as {
        sessionId: string;
      };
      c.closePlayer(passing.sessionId);
      expect(c.joinedChannels()).toEqual([]);
      expect(await c.invoke('player.commit', { sessionId: passing.sessionId })).toEqual({ committed: false });
    } finally {
      await c.close();
    }
    await until(() => tracked('demo') === 0, 10_000, 'the swarm left');
  }, 30_000);

  it('drops a pre-join that is not renewed within its time to live', async () => {
    const c = await core(server.httpUrl, 500);
    try {
      await c.invoke('channels.prejoin', { channels: ['demo'] });
      expect(c.joinedChannels()).toHaveLength(1);
      await until(() => c.joinedChannels().length === 0, 5000, 'the warm hold expires');
    } finally {
      await c.close();
    }
  });
});
