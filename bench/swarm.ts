/**
 * bench:swarm — a real swarm on loopback: one server process, seed process(es) and N
 * `swarmcast peer` processes playing the demo channel. The same run three ways: P2P on in
 * normal mode (the headline figures), the low-latency mode (the streamer's preview), and P2P
 * off (the CDN-only baseline). Every viewer's per-second stats line is read; latency is
 * measured exactly as SYSTEM.md defines it, for every mode.
 *
 *   npm run bench:swarm -- [--viewers 30] [--seeds 1] [--duration 120] [--modes normal,low,off]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Figures, median, percentile, printLine, round, writeSummary } from './report';

const BIN = fileURLToPath(new URL('../bin/swarmcast.mjs', import.meta.url));
const CLOCK_TICKS = 100;
const WARMUP_S = 10;

type Mode = 'normal' | 'low' | 'off';

interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, number | string | null>>;
  cpuTicks: number;
  rssKb: number;
  exited: Promise<void>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, SWARMCAST_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const p: Proc = {
    child,
    lines: [],
    cpuTicks: 0,
    rssKb: 0,
    exited: new Promise((r) => child.on('exit', () => r())),
  };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        p.lines.push(JSON.parse(line));
      } catch {
        // not JSON
      }
    }
  });
  return p;
}

/** CPU ticks and RSS of a live process, from /proc. */
function sample(p: Proc): void {
  const pid = p.child.pid;
  if (!pid || p.child.exitCode !== null) return;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    p.cpuTicks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    if (rss) p.rssKb = Math.max(p.rssKb, Number(rss[1]));
  } catch {
    // exited between the check and the read
  }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runOnce(
  mode: Mode,
  viewers: number,
  seeds: number,
  durationS: number,
  dump?: string,
): Promise<Figures> {
  const data = await mkdtemp(join(tmpdir(), 'swarmcast-bench-'));
  const server = start([
    'server',
    '--host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--rtmp-port',
    '0',
    '--stun-port',
    '0',
    '--data',
    data,
  ]);
  await until(() => server.lines.some((l) => l.event === 'ready'), 20_000, 'server');
  const url = String(server.lines.find((l) => l.event === 'ready')!.http);
  await new Promise((r) => setTimeout(r, 4000)); // a window of segments to start from
  const seedProcs = Array.from({ length: seeds }, () =>
    start(['seed', '--server', url, '--channel', 'demo']),
  );
  const flags = mode === 'off' ? ['--no-p2p'] : mode === 'low' ? ['--low-latency'] : [];
  const peers: Proc[] = [];
  for (let i = 0; i < viewers; i++) {
    peers.push(
      start(['peer', '--server', url, '--channel', 'demo', '--duration', String(durationS), ...flags]),
    );
    await new Promise((r) => setTimeout(r, 400)); // start-up is CPU-heavy: do not start them all at once
  }
  const sampler = setInterval(() => peers.forEach(sample), 2000);
  await Promise.all(peers.map((p) => p.exited));
  clearInterval(sampler);
  for (const s of seedProcs) s.child.kill('SIGTERM');
  server.child.kill('SIGTERM');
  await Promise.all([...seedProcs.map((s) => s.exited), server.exited]);
  await rm(data, { recursive: true, force: true });

  if (dump) {
    const rows = peers.flatMap((p, i) => p.lines.map((l) => JSON.stringify({ mode, viewer: i, ...l })));
    appendFileSync(dump, `${rows.join('\n')}\n`);
  }
  const finals = peers.map((p) => p.lines[p.lines.length - 1] ?? {});
  const sum = (k: string) => finals.reduce((a, f) => a + Number(f[k] ?? 0), 0);
  const latencies = peers.flatMap((p) =>
    p.lines
      .filter((l) => Number(l.t) >= WARMUP_S && typeof l.latency_s === 'number')
      .map((l) => Number(l.latency_s)),
  );
  const ttffs = finals.map((f) => Number(f.ttff_ms)).filter((x) => Number.isFinite(x) && x > 0);
  const received = sum('bytes_p2p') + sum('bytes_cdn') + sum('bytes_seed');
  const figures: Figures = {
    mode,
    viewers,
    completed: finals.filter((f) => f.t !== undefined).length,
    p2p_share: round(received > 0 ? sum('bytes_p2p') / received : 0, 4),
    cdn_bytes: sum('bytes_cdn'),
    seed_bytes: sum('bytes_seed'),
    p2p_bytes: sum('bytes_p2p'),
    stalls: sum('stalls'),
    stall_seconds: round(sum('stall_s'), 2),
    latency_s_median: round(median(latencies), 3),
    latency_s_p95: round(percentile(latencies, 95), 3),
    startup_ms_median: round(median(ttffs), 0),
    cpu_s_per_viewer: round(peers.reduce((a, p) => a + p.cpuTicks, 0) / CLOCK_TICKS / viewers, 2),
    rss_mb_per_viewer: round(median(peers.map((p) => p.rssKb / 1024)), 1),
  };
  printLine({ run: mode, ...figures });
  return figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      viewers: { type: 'string', default: '30' },
      seeds: { type: 'string', default: '1' },
      duration: { type: 'string', default: '120' },
      modes: { type: 'string', default: 'normal,low,off' },
      /** Write every viewer's stats lines here (JSON lines with a viewer index), for a closer look. */
      dump: { type: 'string' },
    },
  });
  const viewers = Number(values.viewers);
  const seeds = Number(values.seeds);
  const duration = Number(values.duration);
  const modes = values.modes.split(',') as Mode[];
  const results = new Map<Mode, Figures>();
  for (const mode of modes) results.set(mode, await runOnce(mode, viewers, seeds, duration, values.dump));
  const normal = results.get('normal') ?? {};
  const low = results.get('low');
  const off = results.get('off');
  await writeSummary('swarm', {
    viewers,
    seeds,
    duration_s: duration,
    p2p_share: normal.p2p_share ?? null,
    cdn_bytes: normal.cdn_bytes ?? null,
    seed_bytes: normal.seed_bytes ?? null,
    cdn_bytes_p2p_off: off?.cdn_bytes ?? null,
    cdn_saving_vs_p2p_off:
      off && normal.cdn_bytes !== undefined
        ? round(1 - Number(normal.cdn_bytes) / Number(off.cdn_bytes), 4)
        : null,
    stalls: normal.stalls ?? null,
    stall_seconds: normal.stall_seconds ?? null,
    latency_s_median: normal.latency_s_median ?? null,
    latency_s_p95: normal.latency_s_p95 ?? null,
    startup_ms_median: normal.startup_ms_median ?? null,
    cpu_s_per_viewer: normal.cpu_s_per_viewer ?? null,
    rss_mb_per_viewer: normal.rss_mb_per_viewer ?? null,
    low_p2p_share: low?.p2p_share ?? null,
    low_stalls: low?.stalls ?? null,
    low_latency_s_median: low?.latency_s_median ?? null,
    low_latency_s_p95: low?.latency_s_p95 ?? null,
    low_startup_ms_median: low?.startup_ms_median ?? null,
    off_latency_s_median: off?.latency_s_median ?? null,
    off_stalls: off?.stalls ?? null,
  });
}

main().catch((err) => {
  process.stderr.write(`bench:swarm failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
