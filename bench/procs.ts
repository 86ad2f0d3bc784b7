/**
 * A swarm on loopback for the benchmarks (bench:swarm, bench:soak): one `swarmcast server`
 * playing the demo channel, seed processes and N headless viewers (`swarmcast peer`), each a
 * real process; their JSON stats lines are collected and what each viewer costs is read from
 * /proc once a second. The server and the seeds run at a raised priority, as the machines of
 * their own they have in a deployment (INFRASTRUCTURE_NICE).
 *
 * CPU: /proc/PID/stat utime+stime (every thread of the process, exited ones included), and the
 * same per thread from /proc/PID/task/TID/stat, classified by /proc/PID/task/TID/comm:
 *  - libdatachannel's own threads (node-datachannel 0.33, seen in `swarmcast peer` and `seed`
 *    processes playing the demo channel): "RTC worker" (its thread pool, two of them),
 *    "RTC poll" (its poll service), "SCTP timer" and "SCTP iterator" (usrsctp), "juice poll"
 *    (libjuice's shared poll thread). The binary also names "RTC resolver", "RTC cleanup",
 *    "juice agent", "juice mux", "juice resolver" and "juice server" threads (other modes or
 *    short-lived ones). So: comm starting with "RTC ", "SCTP " or "juice ".
 *  - Node's own threads: on Node 20 every one of them is named "node" (the main thread, the
 *    four V8 platform workers, libuv's thread pool, the signal/inspector threads and the worker
 *    thread running tsx's module hooks); newer Node names them "MainThread", "V8Worker",
 *    "libuv-worker" and so on. None of those match the prefixes above.
 * A native thread that exits between two samples takes its last ticks with it (the resolver
 * threads are short-lived); the steady-state threads live as long as the peer node.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../test/support/media';
import {
  collectLines,
  INFRASTRUCTURE_NICE,
  type RunningCommand,
  runSwarmcast,
} from '../test/support/processes';
import { mean, printLine, round } from './report';

/** USER_HZ (`getconf CLK_TCK`): /proc counts CPU time in these ticks. */
export const CLOCK_TICKS = 100;
/** libdatachannel's threads (libdatachannel itself, usrsctp, libjuice), by comm; see above. */
export const NATIVE_THREAD = /^(RTC|SCTP|juice) /;
/** Start-up is CPU-heavy: viewers are started this far apart, not all at once. */
const STAGGER_MS = 400;

export interface Sample {
  /** Date.now() of the reading. */
  at: number;
  /** utime+stime of the whole process. */
  ticks: number;
  /** utime+stime of its live libdatachannel threads. */
  nativeTicks: number;
  rssKb: number;
  /**
   * RssAnon: the process's own memory (heaps, buffers, stacks). The rest of its RSS is file
   * pages, nearly all the node binary's and the native addon's code, shared with every other
   * process running them and not counted by Windows' or macOS's memory columns.
   */
  anonKb: number;
}

export interface Proc extends RunningCommand {
  spawnedAt: number;
  /** One reading a sampling round while the process lives. */
  samples: Sample[];
  /** CPU ticks (all threads) read as the first stats line with a non-null ttff_ms arrived. */
  ticksAtFirstFrame: number | null;
}

function track(cmd: RunningCommand): Proc {
  const p: Proc = { ...cmd, spawnedAt: Date.now(), samples: [], ticksAtFirstFrame: null };
  // collectLines' listener runs first, so the new lines are already in p.lines here.
  let seen = 0;
  cmd.child.stdout?.on('data', () => {
    for (; seen < p.lines.length; seen++) {
      const ttff = p.lines[seen]!.ttff_ms;
      if (p.ticksAtFirstFrame === null && ttff !== null && ttff !== undefined) {
        p.ticksAtFirstFrame = statTicks(`/proc/${cmd.child.pid}/stat`)?.ticks ?? null;
      }
    }
  });
  return p;
}

/** `node bin/swarmcast.mjs ARGS` (the bin decides what runs), tracked. */
export function swarmcast(args: string[], nice?: number): Proc {
  return track(runSwarmcast(args, { SWARMCAST_LOG_LEVEL: 'error' }, nice));
}

/** A Node process spinning on one core until killed. */
export function busyLoop(): Proc {
  return track(
    collectLines(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: ['ignore', 'pipe', 'pipe'] })),
  );
}

/** comm and utime+stime from a /proc stat file; null when the process or thread is gone. */
function statTicks(path: string): { comm: string; ticks: number } | null {
  try {
    const stat = readFileSync(path, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

function nativeTicks(pid: number): number {
  let ticks = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    const s = statTicks(`/proc/${pid}/task/${tid}/stat`);
    if (s && NATIVE_THREAD.test(s.comm)) ticks += s.ticks;
  }
  return ticks;
}

/** Appends a reading of a live process's CPU ticks and RSS. */
export function sample(p: Proc): void {
  const pid = p.child.pid;
  if (!pid || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const at = Date.now();
  const whole = statTicks(`/proc/${pid}/stat`);
  const native = nativeTicks(pid);
  let rssKb = 0;
  let anonKb = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    anonKb = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return; // exited between the reads
  }
  if (whole) p.samples.push({ at, ticks: whole.ticks, nativeTicks: native, rssKb, anonKb });
}

function within(p: Proc, fromMs: number, toMs: number): Sample[] {
  return p.samples.filter((s) => s.at >= fromMs && s.at <= toMs);
}

/**
 * CPU use between two instants (Date.now() values), in % of one core: from the first reading
 * at or after `fromMs` to the last at or before `toMs`; null without two readings.
 */
export function cpuPct(
  p: Proc,
  fromMs: number,
  toMs: number,
  which: 'all' | 'native' = 'all',
): number | null {
  const s = within(p, fromMs, toMs);
  const a = s[0];
  const b = s[s.length - 1];
  if (!a || !b || b.at <= a.at) return null;
  const ticks = which === 'all' ? b.ticks - a.ticks : b.nativeTicks - a.nativeTicks;
  return ((ticks / CLOCK_TICKS) * 100_000) / (b.at - a.at);
}

/** Mean RSS between two instants, MB; null without a reading. */
export function rssMb(p: Proc, fromMs: number, toMs: number): number | null {
  const s = within(p, fromMs, toMs);
  return s.length > 0 ? mean(s.map((x) => x.rssKb)) / 1024 : null;
}

/** Largest RSS seen, MB (`which: 'anon'`: of its RssAnon part). */
export function maxRssMb(p: Proc, which: 'all' | 'anon' = 'all'): number {
  return Math.max(0, ...p.samples.map((s) => (which === 'all' ? s.rssKb : s.anonKb))) / 1024;
}

/** CPU seconds (all threads) at the last reading. */
export function cpuSeconds(p: Proc): number {
  return (p.samples[p.samples.length - 1]?.ticks ?? 0) / CLOCK_TICKS;
}

/** Mean over viewers of a per-viewer figure (viewers without one left out), rounded. */
export function meanPerViewer(
  peers: readonly Proc[],
  figure: (p: Proc) => number | null,
  digits: number,
): number {
  return round(mean(peers.map(figure).filter((x) => x !== null)), digits);
}

/** Sum of one field over every viewer's last stats line. */
export function sumFinal(peers: readonly Proc[], key: string): number {
  return peers.reduce((a, p) => a + Number(p.last()?.[key] ?? 0), 0);
}

/** Share of the received bytes that came from other viewers (not the CDN, not seeds). */
export function p2pShare(peers: readonly Proc[]): number {
  const received =
    sumFinal(peers, 'bytes_p2p') + sumFinal(peers, 'bytes_cdn') + sumFinal(peers, 'bytes_seed');
  return received > 0 ? sumFinal(peers, 'bytes_p2p') / received : 0;
}

/**
 * The share of bytes from peers received between `from` and `to` (Date.now() times): the room
 * in its steady state, without the start-up (the first segments come from the CDN for an
 * instant start, before any link is up) or the end (viewers leave one after another).
 */
export function p2pShareBetween(peers: readonly Proc[], from: number, to: number): number | null {
  let p2p = 0;
  let all = 0;
  const got = (l: Record<string, unknown>) =>
    Number(l.bytes_p2p ?? 0) + Number(l.bytes_cdn ?? 0) + Number(l.bytes_seed ?? 0);
  for (const p of peers) {
    const at = (l: Record<string, unknown>) => p.spawnedAt + Number(l.t) * 1000;
    const a = p.lines.find((l) => typeof l.t === 'number' && at(l) >= from);
    const b = p.lines.findLast((l) => typeof l.t === 'number' && at(l) <= to);
    if (!a || !b || at(b) <= at(a)) continue;
    p2p += Number(b.bytes_p2p ?? 0) - Number(a.bytes_p2p ?? 0);
    all += got(b) - got(a);
  }
  return all > 0 ? p2p / all : null;
}

/** `swarmcast server` on loopback: the demo channel, ephemeral ports, no RTMP ingest. */
export function localServerArgs(dataDir: string): string[] {
  return [...'server --host 127.0.0.1 --http-port 0 --no-rtmp --stun-port 0 --data'.split(' '), dataDir];
}

/** Command-line flags bench:swarm and bench:soak share (parseArgs options). */
export function swarmFlags(viewers: number) {
  return {
    viewers: { type: 'string', default: String(viewers) },
    seeds: { type: 'string', default: '1' },
    /** Print the summary but leave bench/results/ alone (smoke runs). */
    'no-save': { type: 'boolean', default: false },
  } as const;
}

export interface SwarmOptions {
  viewers: number;
  seeds: number;
  durationS: number;
  /** Extra `swarmcast peer` flags (--no-p2p, --low-latency). */
  peerFlags?: string[];
  /** Keep one core busy (a spinning process) for the whole run. */
  busyCore?: boolean;
  /** Called after every sampling round (once a second). */
  onSample?: (peers: readonly Proc[]) => void;
}

export interface SwarmRun {
  peers: Proc[];
  /** Date.now() when the first and the last viewer were spawned. */
  firstSpawn: number;
  lastSpawn: number;
  /** The spinning process, when busyCore. */
  busy: Proc | null;
}

/**
 * Runs a server, seeds and viewers until every viewer has played `durationS` and exited;
 * everything it started is stopped before it returns or throws.
 */
export async function runSwarm(o: SwarmOptions): Promise<SwarmRun> {
  const busy = o.busyCore ? busyLoop() : null;
  const data = await mkdtemp(join(tmpdir(), 'swarmcast-bench-'));
  const server = swarmcast(localServerArgs(data), INFRASTRUCTURE_NICE);
  const seeds: Proc[] = [];
  const peers: Proc[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    await until(
      () => {
        if (server.child.exitCode !== null) throw new Error(`server exited: ${server.stderr.join('')}`);
        return server.lines.some((l) => l.event === 'ready');
      },
      20_000,
      'server',
    );
    const url = String(server.lines.find((l) => l.event === 'ready')!.http);
    await new Promise((r) => setTimeout(r, 4000)); // a window of segments to start from
    for (let i = 0; i < o.seeds; i++)
      seeds.push(swarmcast(['seed', '--server', url, '--channel', 'demo'], INFRASTRUCTURE_NICE));
    const watched = busy ? [busy] : [];
    sampler = setInterval(() => {
      [...peers, ...watched].forEach(sample);
      o.onSample?.(peers);
    }, 1000);
    const args = ['peer', '--server', url, '--channel', 'demo', '--duration', String(o.durationS)];
    for (let i = 0; i < o.viewers; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, STAGGER_MS));
      peers.push(swarmcast([...args, ...(o.peerFlags ?? [])]));
    }
    await Promise.all(peers.map((p) => p.exited));
  } finally {
    clearInterval(sampler);
    const rest = [...peers, ...seeds, server];
    for (const p of rest) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    busy?.child.kill('SIGKILL');
    await Promise.all([...rest, ...(busy ? [busy] : [])].map((p) => p.exited));
    await rm(data, { recursive: true, force: true });
  }
  // A viewer stopped by SIGTERM exits 0: one whose stats end well before --duration ended early too.
  const failed = peers.filter((p) => p.child.exitCode !== 0 || Number(p.last()?.t ?? 0) < o.durationS - 2);
  if (failed.length > 0) {
    printLine({
      warning: `${failed.length} viewer(s) failed or ended early`,
      last_t: failed.map((p) => p.last()?.t ?? null),
      exits: failed.map((p) => p.child.exitCode ?? p.child.signalCode),
      stderr: failed[0]!.stderr.join('').slice(0, 2000),
    });
  }
  return {
    peers,
    firstSpawn: peers[0]?.spawnedAt ?? 0,
    lastSpawn: peers[peers.length - 1]?.spawnedAt ?? 0,
    busy,
  };
}
