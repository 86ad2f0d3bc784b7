/**
 * ffmpeg publishing to a running origin over RTMP and HTTP push; what comes out (plain
 * HTTP-FLV, and init + segments of the window) is checked with ffprobe and decoded by ffmpeg.
 * Also: refused publishers, stream keys, a publisher killed mid-stream, garbage on the RTMP port.
 */
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVideoKeyframe, parseFlv, TAG_VIDEO } from '../common/flv';
import { originPaths } from '../common/manifest';
import { sha256Hex } from '../common/sha256';
import { silentLogger } from '../server/log';
import type { Channel } from '../server/origin/channel';
import { type RunningServer, startServer } from '../server/run-server';
import {
  collect,
  concatBytes,
  DEMO_FLV,
  decodeErrors,
  fetchBytes,
  fetchSignedManifest,
  ffmpegPublishArgs,
  nextSegment,
  Procs,
  probePackets,
  removeTempDirs,
  tempDir,
  timestampViolation,
  verifySignedManifest,
  waitFor,
} from './support/helpers';

const procs = new Procs();
let server: RunningServer;
let work: string;

beforeAll(async () => {
  work = await tempDir();
  server = await startServer({
    httpPort: 0,
    rtmpPort: 0,
    dataDir: join(work, 'data'),
    demo: false,
    windowSize: 60,
    log: silentLogger(),
  });
});

afterAll(async () => {
  procs.killAll();
  await server?.close();
  await removeTempDirs();
});

function channel(id: string): Channel {
  const ch = server.origin.channels.get(id);
  if (!ch) throw new Error(`no channel ${id}`);
  return ch;
}

/** Reads the plain HTTP-FLV stream into a file until the origin ends it. */
async function recordHttpFlv(id: string): Promise<string> {
  const file = join(work, `${id}-live.flv`);
  const res = await fetch(`${server.httpUrl}${originPaths.httpFlv(id)}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('video/x-flv');
  expect(res.headers.get('cache-control')).toBe('no-store');
  await pipeline(Readable.fromWeb(res.body as NodeReadableStream), createWriteStream(file));
  return file;
}

/** Downloads init + every segment of the window, checks them against the signed manifest, writes them as one file. */
async function downloadWindow(
  id: string,
): Promise<{ file: string; durationMs: number; videoFrames: number }> {
  const signed = await fetchSignedManifest(`${server.httpUrl}${originPaths.manifest(id)}`);
  const key = (await (await fetch(`${server.httpUrl}${originPaths.originKey}`)).json()) as {
    publicKey: string;
  };
  expect(verifySignedManifest(signed, key.publicKey)).toBe(true);
  const m = signed.manifest;
  expect(m.segments.length).toBeGreaterThan(2);
  expect(new Set(m.segments.map((s) => s.initVersion))).toEqual(new Set([1]));
  const initEntry = m.inits.find((i) => i.version === 1)!;
  const init = await fetchBytes(`${server.httpUrl}${originPaths.init(id, m.stream, 1)}`);
  expect(sha256Hex(init)).toBe(initEntry.sha256);
  const parts = [init];
  let videoFrames = 0;
  for (const s of m.segments) {
    const data = await fetchBytes(`${server.httpUrl}${originPaths.segment(id, m.stream, s.seq)}`);
    expect(data.length).toBe(s.size);
    expect(sha256Hex(data)).toBe(s.sha256);
    videoFrames += parseFlv(data, { headerless: true }).filter((t) => t.type === TAG_VIDEO).length;
    parts.push(data);
  }
  const file = join(work, `${id}-window.flv`);
  await writeFile(file, concatBytes(parts));
  return { file, durationMs: m.segments.reduce((n, s) => n + s.durationMs, 0), videoFrames };
}

async function expectCleanFlv(file: string, minVideoFrames: number): Promise<void> {
  const packets = await probePackets(procs, file);
  const video = packets.filter((p) => p.codec_type === 'video');
  expect(video.length).toBeGreaterThanOrEqual(minVideoFrames);
  expect(packets.some((p) => p.codec_type === 'audio')).toBe(true);
  expect(video[0]!.flags.startsWith('K'), 'starts on a keyframe').toBe(true);
  expect(timestampViolation(packets)).toBeNull();
  expect(await decodeErrors(procs, file)).toBe('');
}

describe('ffmpeg publishing to the origin', () => {
  const SECONDS = 6;
  let rtmpPublisher: ReturnType<typeof collect>;
  let httpPublisher: ReturnType<typeof collect>;
  const liveFiles: Record<string, Promise<string>> = {};

  it('accepts ffmpeg over RTMP and over HTTP push', async () => {
    rtmpPublisher = collect(procs.spawn('ffmpeg', ffmpegPublishArgs(`${server.rtmpUrl}/rt`, SECONDS)));
    httpPublisher = collect(
      procs.spawn('ffmpeg', ffmpegPublishArgs(`${server.httpUrl}${originPaths.ingest('ht')}`, SECONDS)),
    );
    await waitFor(
      () => ['rt', 'ht'].every((id) => (server.origin.channels.get(id)?.latestSeq ?? null) !== null),
      'a first segment on both channels',
    );
    // Viewers of the plain HTTP-FLV output join now and stay until the publishers stop.
    for (const id of ['rt', 'ht']) liveFiles[id] = recordHttpFlv(id);
    for (const id of ['rt', 'ht']) {
      expect(channel(id).live).toBe(true);
      expect(channel(id).getInit(1)?.hasVideo).toBe(true);
      expect(channel(id).getInit(1)?.hasAudio).toBe(true);
    }
    const list = (await (await fetch(`${server.httpUrl}${originPaths.channels}`)).json()) as {
      channels: Array<{ id: string; live: boolean }>;
    };
    expect(list.channels.filter((c) => c.live).map((c) => c.id)).toEqual(['ht', 'rt']);
  });

  it('refuses a second publisher on a live key (HTTP: 409, RTMP: refused) and keeps the first', async () => {
    const res = await fetch(`${server.httpUrl}${originPaths.ingest('rt')}`, {
      method: 'POST',
      body: new Uint8Array(await readFile(DEMO_FLV)).subarray(0, 100_000),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toMatch(/already has a publisher/);

    const second = await collect(
      procs.spawn('ffmpeg', ffmpegPublishArgs(`${server.rtmpUrl}/ht`, 2, false)),
      15_000,
    );
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/already has a publisher/);

    // Both first publishers carry on.
    const [a, b] = await Promise.all([nextSegment(channel('rt')), nextSegment(channel('ht'))]);
    expect(a.seq).toBeGreaterThan(0);
    expect(b.seq).toBeGreaterThan(0);
    expect(channel('rt').live && channel('ht').live).toBe(true);
  });

  it('serves plain HTTP-FLV from a keyframe, with monotonic timestamps, that decodes cleanly', async () => {
    const [r, h] = await Promise.all([rtmpPublisher, httpPublisher]);
    expect(r.stderr).toBe('');
    expect(h.stderr).toBe('');
    expect([r.code, h.code]).toEqual([0, 0]);
    for (const id of ['rt', 'ht']) {
      expect(channel(id).live).toBe(false);
      // Joined after the first segment: at least the last few seconds.
      await expectCleanFlv(await liveFiles[id]!, 25 * (SECONDS - 3));
    }
  });

  it('serves init + segments of the window that match the signed manifest and decode cleanly', async () => {
    for (const id of ['rt', 'ht']) {
      const win = await downloadWindow(id);
      expect(win.durationMs).toBeGreaterThan((SECONDS - 0.5) * 1000);
      expect(win.durationMs).toBeLessThan((SECONDS + 0.5) * 1000);
      await expectCleanFlv(win.file, win.videoFrames);
    }
  });

  it('ends the channel cleanly when a publisher is killed mid-stream; the next one continues the timeline', async () => {
    const killed = procs.spawn('ffmpeg', ffmpegPublishArgs(`${server.rtmpUrl}/gone`, 20));
    const done = collect(killed);
    await waitFor(() => (server.origin.channels.get('gone')?.latestSeq ?? -1) >= 1, 'segments from ffmpeg');
    killed.kill('SIGKILL');
    await done;
    const ch = channel('gone');
    await waitFor(() => !ch.live, 'the channel to end');
    const lastBefore = ch.segments.at(-1)!;
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.httpUrl}${originPaths.httpFlv('gone')}`)).status).toBe(404);

    // A new publisher (HTTP push, as fast as ffmpeg can) continues after the old one's end.
    const again = await collect(
      procs.spawn('ffmpeg', ffmpegPublishArgs(`${server.httpUrl}${originPaths.ingest('gone')}`, 3, false)),
    );
    expect(again.code).toBe(0);
    const after = ch.segments.filter((s) => s.seq > lastBefore.seq);
    expect(after.length).toBeGreaterThanOrEqual(2);
    const end = lastBefore.startTs + lastBefore.durationMs;
    expect(after[0]!.startTs).toBeGreaterThanOrEqual(end);
    expect(after[0]!.startTs - end).toBeLessThan(200);
    expect(isVideoKeyframe(parseFlv(after[0]!.data, { headerless: true })[0]!)).toBe(true);
  });

  it('closes a socket that sends garbage to the RTMP port and lives on', async () => {
    let seed = 12345;
    const random = (n: number) =>
      Buffer.from(
        Array.from({ length: n }, () => {
          seed = (seed * 1103515245 + 12345) >>> 0;
          return seed >>> 24;
        }),
      );
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      random(70_000),
      // A valid-looking C0 (version 3), any handshake, then junk chunks.
      Buffer.concat([Buffer.from([3]), random(3072), random(65_536)]),
    ];
    for (const bytes of garbage) {
      const closed = await new Promise<boolean>((resolve) => {
        const sock = connect(server.rtmpPort!, '127.0.0.1');
        sock.on('data', () => {}); // read the handshake so that the close is seen
        sock.on('error', () => {});
        sock.on('close', () => resolve(true));
        sock.write(bytes);
      });
      expect(closed).toBe(true);
    }
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    // RTMP still works for a real publisher.
    const ok = await collect(
      procs.spawn('ffmpeg', ffmpegPublishArgs(`${server.rtmpUrl}/after-garbage`, 2, false)),
    );
    expect(ok.code).toBe(0);
    expect(channel('after-garbage').segments.length).toBeGreaterThanOrEqual(1);
  });
});

describe('stream keys', () => {
  let keyed: RunningServer;

  beforeAll(async () => {
    keyed = await startServer({
      httpPort: 0,
      rtmpPort: 0,
      dataDir: join(await tempDir(), 'data'),
      demo: false,
      streamKeys: new Map([['s3cret-key', 'cam']]),
      log: silentLogger(),
    });
  });

  afterAll(async () => {
    await keyed?.close();
  });

  it('refuses unknown stream keys over RTMP and HTTP and maps known ones to their channel', async () => {
    const rtmp = await collect(procs.spawn('ffmpeg', ffmpegPublishArgs(`${keyed.rtmpUrl}/cam`, 1, false)));
    expect(rtmp.code).not.toBe(0);
    expect(rtmp.stderr).toMatch(/unknown stream key/);
    const http = await fetch(`${keyed.httpUrl}${originPaths.ingest('nope')}`, { method: 'POST', body: 'x' });
    expect(http.status).toBe(403);
    expect(((await http.json()) as { error: string }).error).toBe('unknown stream key');
    expect(keyed.origin.channels.size).toBe(0);

    const good = await collect(
      procs.spawn('ffmpeg', ffmpegPublishArgs(`${keyed.rtmpUrl}/s3cret-key`, 2, false)),
    );
    expect(good.code).toBe(0);
    expect([...keyed.origin.channels.keys()]).toEqual(['cam']);
    expect(keyed.origin.channels.get('cam')!.segments.length).toBeGreaterThanOrEqual(1);
  });
});
