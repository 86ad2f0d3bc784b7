/**
 * `npm run bench:origin`: what the origin costs and how fast it publishes.
 *
 * 1. Segmenting throughput: the demo clip looped many times in memory, pushed as FLV bytes
 *    (64 KiB chunks, as a socket delivers them) through the demuxer and the segmenter
 *    (parsing, cutting, SHA-256), and through a whole channel (plus the timestamp rebaser and
 *    the HTTP-FLV GOP cache). Reported in MB/s (10^6 bytes) of wall time and of CPU time, and
 *    as the CPU share of one real-time 4 Mbit/s channel, i.e. how many such channels one core
 *    can cut.
 * 2. Publication delay over real HTTP: the server with its demo channel; for ~15 segments, the
 *    time from the segment's cut (the arrival of the tag that closes it, observed in-process)
 *    to the blocking manifest reload (`manifest.json?after=N`) response reaching the client.
 *    Also the first-byte delay of the live-edge partial segment (seq = latest + 1).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFlvHeader, encodeTags, FlvDemuxer, type FlvTag } from '../common/flv';
import { originPaths, signedManifestSchema } from '../common/manifest';
import { silentLogger } from '../server/log';
import { Channel } from '../server/origin/channel';
import { loadDemoClip } from '../server/origin/demo-source';
import { Segmenter } from '../server/origin/segmenter';
import { defaultDemoClip, startServer } from '../server/run-server';
import { median, percentile, printLine, round, writeSummary } from './report';

const CHUNK = 64 * 1024;
const LOOPS_IN_MEMORY = 8;
const MEASURE_MS = 1500;
const RELOAD_SAMPLES = 15;
const CHANNEL_BITS_PER_S = 4_000_000;

/** The clip looped `loops` times as one FLV byte stream with continuous timestamps. */
async function loopedStream(loops: number): Promise<{ bytes: Uint8Array; mediaMs: number }> {
  const clip = await loadDemoClip(defaultDemoClip());
  const parts: Uint8Array[] = [encodeFlvHeader(true, true), encodeTags(clip.headers)];
  for (let loop = 0; loop < loops; loop++) {
    const shifted: FlvTag[] = clip.frames.map((f) => ({ ...f, timestamp: loop * clip.loopMs + f.timestamp }));
    parts.push(encodeTags(shifted));
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, mediaMs: loops * clip.loopMs };
}

interface Throughput {
  MBps: number;
  cpuMBps: number;
  passes: number;
  segments: number;
}

/** Repeats `pass` (one run over `bytes`) for about MEASURE_MS after a warm-up pass. */
function measure(bytes: Uint8Array, pass: (chunks: Uint8Array[]) => number): Throughput {
  const chunks: Uint8Array[] = [];
  // Each pass gets its own copies, as sockets deliver fresh buffers.
  for (let o = 0; o < bytes.length; o += CHUNK) chunks.push(bytes.slice(o, o + CHUNK));
  pass(chunks);
  let passes = 0;
  let segments = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < MEASURE_MS) {
    segments += pass(chunks);
    passes++;
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const total = passes * bytes.length;
  return { MBps: total / wallS / 1e6, cpuMBps: total / cpuS / 1e6, passes, segments };
}

function demuxAndSegment(chunks: Uint8Array[]): number {
  let segments = 0;
  const segmenter = new Segmenter({ onInit: () => {}, onSegment: () => segments++ });
  const demuxer = new FlvDemuxer();
  let now = 0;
  for (const c of chunks) for (const tag of demuxer.push(c)) segmenter.push(tag, now++);
  segmenter.flush();
  return segments;
}

function demuxIntoChannel(chunks: Uint8Array[]): number {
  let segments = 0;
  const ch = new Channel({ id: 'bench', log: silentLogger() });
  ch.onSegment(() => segments++);
  const sink = ch.publish('bench');
  if (typeof sink === 'string') throw new Error(sink);
  const demuxer = new FlvDemuxer();
  for (const c of chunks) for (const tag of demuxer.push(c)) sink.write(tag);
  sink.end('bench pass over');
  return segments;
}

async function throughput() {
  const { bytes, mediaMs } = await loopedStream(LOOPS_IN_MEMORY);
  const clipMbps = (bytes.length * 8) / (mediaMs / 1000) / 1e6;
  printLine({
    bench: 'origin',
    phase: 'input',
    bytes: bytes.length,
    media_s: mediaMs / 1000,
    clip_mbps: round(clipMbps),
  });
  // SHA-256 alone bounds what any segmenter can do.
  const sha = measure(bytes, (chunks) => {
    const h = createHash('sha256');
    for (const c of chunks) h.update(c);
    h.digest();
    return 0;
  });
  printLine({ bench: 'origin', phase: 'sha256_only', MBps: round(sha.MBps) });
  const seg = measure(bytes, demuxAndSegment);
  printLine({
    bench: 'origin',
    phase: 'demux_segment',
    MBps: round(seg.MBps),
    cpu_MBps: round(seg.cpuMBps),
    passes: seg.passes,
    segments: seg.segments,
  });
  const chan = measure(bytes, demuxIntoChannel);
  printLine({
    bench: 'origin',
    phase: 'channel_ingest',
    MBps: round(chan.MBps),
    cpu_MBps: round(chan.cpuMBps),
    passes: chan.passes,
    segments: chan.segments,
  });
  return { seg, chan };
}

async function delays() {
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-bench-origin-'));
  const server = await startServer({ httpPort: 0, rtmpPort: null, dataDir, demo: true, log: silentLogger() });
  const demo = server.origin.channels.get('demo')!;
  const cutAt = new Map<number, number>();
  demo.onSegment((s) => cutAt.set(s.seq, performance.now()));
  const reload: number[] = [];
  const firstByte: number[] = [];
  const partials: Promise<void>[] = [];
  try {
    await new Promise<void>((resolve) => {
      const off = demo.onSegment(() => {
        off();
        resolve();
      });
    });
    let after = demo.latestSeq!;
    for (let i = 0; i < RELOAD_SAMPLES; i++) {
      const res = await fetch(`${server.httpUrl}${originPaths.manifest('demo')}?after=${after}`);
      const body = signedManifestSchema.parse(await res.json());
      const arrived = performance.now();
      const seq = after + 1;
      const cut = cutAt.get(seq);
      if (cut === undefined || !body.manifest.segments.some((s) => s.seq === seq)) {
        throw new Error(`blocking reload after ${after} came back without segment ${seq}`);
      }
      reload.push(arrived - cut);
      printLine({ bench: 'origin', phase: 'reload', seq, delay_ms: round(arrived - cut) });
      after = seq;
      // The live edge is now seq + 1: ask for it while it is being cut.
      partials.push(partialFirstByte(server.httpUrl, demo.stream, seq + 1, firstByte));
    }
    await Promise.all(partials);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { reload, firstByte };
}

async function partialFirstByte(base: string, stream: string, seq: number, out: number[]): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(`${base}${originPaths.segment('demo', stream, seq)}`);
  const reader = res.body!.getReader();
  let first: number | null = null;
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    first ??= performance.now();
    bytes += value.length;
  }
  if (res.status !== 200 || first === null) throw new Error(`partial segment ${seq}: status ${res.status}`);
  const streamed = res.headers.get('content-length') === null;
  out.push(first - t0);
  printLine({ bench: 'origin', phase: 'partial', seq, first_byte_ms: round(first - t0), bytes, streamed });
}

async function main() {
  const { seg, chan } = await throughput();
  const { reload, firstByte } = await delays();
  const channelMBps = CHANNEL_BITS_PER_S / 8 / 1e6;
  await writeSummary('origin', {
    segmenter_MBps: round(seg.MBps),
    segmenter_cpu_MBps: round(seg.cpuMBps),
    channel_ingest_MBps: round(chan.MBps),
    channel_ingest_cpu_MBps: round(chan.cpuMBps),
    cpu_pct_per_4mbps_channel: round((channelMBps / chan.cpuMBps) * 100, 4),
    channels_per_core: Math.floor(chan.cpuMBps / channelMBps),
    reload_delay_ms_median: round(median(reload)),
    reload_delay_ms_p95: round(percentile(reload, 95)),
    reload_samples: reload.length,
    partial_first_byte_ms_median: round(median(firstByte)),
    partial_first_byte_ms_p95: round(percentile(firstByte, 95)),
    partial_samples: firstByte.length,
  });
}

main().catch((err) => {
  process.stderr.write(`bench origin: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
