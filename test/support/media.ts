/** Reading FLV streams and checking them with ffprobe/ffmpeg, for tests. */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeFlvHeader, encodeTags, FlvDemuxer, type FlvTag, TAG_VIDEO } from '../../common/flv';

const run = promisify(execFile);

/** Reads an HTTP FLV stream for `ms` and returns its header flags and whole tags. */
export async function readFlvFor(
  url: string,
  ms: number,
  init?: RequestInit,
): Promise<{ tags: FlvTag[]; hasAudio: boolean; hasVideo: boolean; bytes: number }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  const demuxer = new FlvDemuxer();
  const tags: FlvTag[] = [];
  let bytes = 0;
  try {
    const res = await fetch(url, { ...init, signal: abort.signal });
    if (!res.ok || !res.body) throw new Error(`${url}: ${res.status}`);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      tags.push(...demuxer.push(value));
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return { tags, hasAudio: demuxer.hasAudio, hasVideo: demuxer.hasVideo, bytes };
}

/** Writes whole tags as an FLV file and returns its path. */
export async function writeFlv(tags: FlvTag[], hasAudio = true, hasVideo = true): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'swarmcast-test-'));
  const file = join(dir, 'out.flv');
  await writeFile(file, Buffer.concat([encodeFlvHeader(hasAudio, hasVideo), encodeTags(tags)]));
  return file;
}

/** What ffmpeg says when it decodes the whole file (empty when it decodes cleanly). */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-f', 'null', '-']);
  return stderr.trim();
}

export interface ProbedPacket {
  stream: 'video' | 'audio';
  pts: number;
  dts: number;
  key: boolean;
}

export async function probePackets(file: string): Promise<ProbedPacket[]> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,dts_time,flags', '-of', 'json', file],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const parsed = JSON.parse(stdout) as {
    packets: Array<{ codec_type: string; pts_time: string; dts_time: string; flags: string }>;
  };
  return parsed.packets.map((p) => ({
    stream: p.codec_type === 'video' ? 'video' : 'audio',
    pts: Number(p.pts_time),
    dts: Number(p.dts_time),
    key: p.flags.includes('K'),
  }));
}

/** True when each stream's decode timestamps never go backwards. */
export function monotonic(packets: ProbedPacket[]): boolean {
  const last: Record<string, number> = {};
  for (const p of packets) {
    if (last[p.stream] !== undefined && p.dts < last[p.stream]!) return false;
    last[p.stream] = p.dts;
  }
  return true;
}

/** Largest step between consecutive video tags (ms). */
export function largestVideoGap(tags: FlvTag[]): number {
  let prev: number | null = null;
  let gap = 0;
  for (const t of tags) {
    if (t.type !== TAG_VIDEO) continue;
    if (prev !== null) gap = Math.max(gap, t.timestamp - prev);
    prev = t.timestamp;
  }
  return gap;
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
