/**
 * Helpers shared by the origin tests: temp folders, waiting on conditions (never fixed sleeps),
 * ffmpeg/ffprobe runners that are always cleaned up, and manifest signature checks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLV_HEADER_SIZE, PREV_TAG_SIZE, TAG_HEADER_SIZE, tagBodySize } from '../../common/flv';
import { manifestSigningBytes, type SignedManifest, signedManifestSchema } from '../../common/manifest';
import type { Channel } from '../../server/origin/channel';
import type { Segment } from '../../server/origin/segmenter';

export const DEMO_FLV = fileURLToPath(new URL('../../assets/demo.flv', import.meta.url));

const tempDirs: string[] = [];

export async function tempDir(prefix = 'swarmcast-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** An FLV file's bytes up to the end of its `tags`-th tag (header included). */
export function flvPrefix(flv: Uint8Array, tags: number): Uint8Array {
  let o = FLV_HEADER_SIZE + PREV_TAG_SIZE;
  for (let i = 0; i < tags; i++) o += TAG_HEADER_SIZE + tagBodySize(flv, o) + PREV_TAG_SIZE;
  return flv.subarray(0, o);
}

/** Polls `cond` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with the channel's next segment that matches `pred` (by default: the next one). */
export function nextSegment(ch: Channel, pred: (s: Segment) => boolean = () => true): Promise<Segment> {
  return new Promise((resolve) => {
    const off = ch.onSegment((s) => {
      if (!pred(s)) return;
      off();
      resolve(s);
    });
  });
}

/** Child processes started by a test file; `killAll` in afterAll. */
export class Procs {
  private readonly live = new Set<ChildProcess>();

  spawn(cmd: string, args: string[]): ChildProcess {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.live.add(p);
    p.on('exit', () => this.live.delete(p));
    return p;
  }

  /** Runs to completion, collecting output. */
  run(
    cmd: string,
    args: string[],
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const p = this.spawn(cmd, args);
    return collect(p, timeoutMs);
  }

  killAll(): void {
    for (const p of this.live) p.kill('SIGKILL');
    this.live.clear();
  }
}

export function collect(
  p: ChildProcess,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  p.stdout?.on('data', (d) => {
    stdout += d;
  });
  p.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`process timed out: ${p.spawnargs.join(' ')}\n${stderr}`));
    }, timeoutMs);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** ffmpeg publishing the demo clip (`-t seconds`, at real time when `realtime`) to `url`. */
export function ffmpegPublishArgs(url: string, seconds: number, realtime = true): string[] {
  return [
    '-nostdin',
    '-v',
    'error',
    ...(realtime ? ['-re'] : []),
    '-t',
    String(seconds),
    '-i',
    DEMO_FLV,
    '-c',
    'copy',
    '-f',
    'flv',
    url,
  ];
}

export interface ProbedPacket {
  codec_type: 'audio' | 'video';
  dts: number;
  pts: number;
  flags: string;
}

export async function probePackets(procs: Procs, file: string): Promise<ProbedPacket[]> {
  const r = await procs.run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'packet=codec_type,dts,pts,flags',
    '-of',
    'json',
    file,
  ]);
  if (r.code !== 0) throw new Error(`ffprobe failed on ${file}: ${r.stderr}`);
  const parsed = JSON.parse(r.stdout) as { packets: ProbedPacket[] };
  return parsed.packets;
}

/** Per track, DTS never goes backwards (video strictly increases). Returns a description of the first violation. */
export function timestampViolation(packets: readonly ProbedPacket[]): string | null {
  const last: Record<string, number> = {};
  for (const [i, p] of packets.entries()) {
    const prev = last[p.codec_type];
    if (prev !== undefined) {
      const bad = p.codec_type === 'video' ? p.dts <= prev : p.dts < prev;
      if (bad) return `${p.codec_type} packet ${i}: dts ${p.dts} after ${prev}`;
    }
    last[p.codec_type] = p.dts;
  }
  return null;
}

/** What `ffmpeg -v error -i FILE -f null -` prints (empty when the file decodes cleanly). */
export async function decodeErrors(procs: Procs, file: string): Promise<string> {
  const r = await procs.run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  return `${r.stderr}${r.code === 0 ? '' : `(exit ${r.code})`}`;
}

export function verifySignedManifest(signed: SignedManifest, publicKeyB64: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
  return verify(null, manifestSigningBytes(signed.manifest), key, Buffer.from(signed.signature, 'base64'));
}

export async function fetchSignedManifest(url: string): Promise<SignedManifest> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return signedManifestSchema.parse(await res.json());
}

export async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
