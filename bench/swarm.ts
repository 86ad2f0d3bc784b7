/**
 * bench:swarm — a real swarm on loopback: one server process, seed process(es) and N
 * `swarmcast peer` processes playing the demo channel (bench/procs.ts). The same run several
 * ways, one after the other:
 *   normal  P2P on, normal latency mode (the headline figures);
 *   loaded  the same while another process spins on one core the whole time;
 *   small3, small5  rooms of 3 and 5 viewers with no seed;
 *   small5-loaded  the room of 5 again beside the busy core (first copies are timed, and a
 *           starved viewer must still take its duty in time);
 *   low     the low-latency mode (the streamer's preview);
 *   off     P2P off (the CDN-only baseline).
 * Every viewer's per-second stats line is read; latency is measured exactly as SYSTEM.md
 * defines it, for every mode. CPU is read from /proc: steady-state % of one core per viewer
 * (all threads, and libdatachannel's own threads alone: the floor) from the end of the warm-up
 * (WARMUP_S after the last viewer started) to the end of the run (when the first viewer has
 * played --duration), and the CPU seconds each viewer used from spawn to its first stats line
 * with a first-frame time.
 *
 *   npm run bench:swarm -- [--viewers 30] [--seeds 1] [--duration 120]
 *                          [--modes normal,loaded,small3,small5,small5-loaded,low,off] [--dump FILE] [--no-save]
 *
 * --no-save prints the summary without writing bench/results/swarm.json (for smoke runs).
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  CLOCK_TICKS,
  cpuPct,
  cpuSeconds,
  maxRssMb,
  meanPerViewer,
  p2pShare,
  p2pShareBetween,
  runSwarm,
  sumFinal,
  swarmFlags,
} from './procs';
import { type Figures, median, percentile, printLine, round, writeSummary } from './report';

const WARMUP_S = 10;

type Mode = 'normal' | 'loaded' | 'small3' | 'small5' | 'small5-loaded' | 'low' | 'off';

/** What a mode changes from `normal`: viewers and seeds (else the command line's), peer flags, a busy core. */
interface ModeSpec {
  viewers?: number;
  seeds?: number;
  peerFlags?: string[];
  busyCore?: boolean;
}

const MODES: Record<Mode, ModeSpec> = {
  normal: {},
  loaded: { busyCore: true },
  small3: { viewers: 3, seeds: 0 },
  small5: { viewers: 5, seeds: 0 },
  'small5-loaded': { viewers: 5, seeds: 0, busyCore: true },
  low: { peerFlags: ['--low-latency'] },
  off: { peerFlags: ['--no-p2p'] },
};

function isMode(m: string): m is Mode {
  return Object.hasOwn(MODES, m);
}

async function runOnce(
  mode: Mode,
  viewers: number,
  seeds: number,
  durationS: number,
  dump?: string,
): Promise<Figures> {
  const run = await runSwarm({ viewers, seeds, durationS, ...MODES[mode] });
  const { peers } = run;
  if (dump) {
    const rows = peers.flatMap((p, i) => p.lines.map((l) => JSON.stringify({ mode, viewer: i, ...l })));
    appendFileSync(dump, `${rows.join('\n')}\n`);
  }
  const n = peers.length;
  const finals = peers.map((p) => p.last() ?? {});
  const latencies = peers.flatMap((p) =>
    p.lines
      .filter((l) => Number(l.t) >= WARMUP_S && typeof l.latency_s === 'number')
      .map((l) => Number(l.latency_s)),
  );
  const ttffs = finals.map((f) => Number(f.ttff_ms)).filter((x) => Number.isFinite(x) && x > 0);
  const steadyFrom = run.lastSpawn + WARMUP_S * 1000;
  const steadyTo = run.firstSpawn + durationS * 1000;
  const steady = (which: 'all' | 'native') =>
    meanPerViewer(peers, (p) => cpuPct(p, steadyFrom, steadyTo, which), 2);
  const startupCpu = peers.flatMap((p) =>
    p.ticksAtFirstFrame === null ? [] : [p.ticksAtFirstFrame / CLOCK_TICKS],
  );
  const figures: Figures = {
    mode,
    viewers: n,
    seeds: MODES[mode].seeds ?? seeds,
    completed: finals.filter((f) => f.t !== undefined).length,
    p2p_share: round(p2pShare(peers), 4),
    // The same over the CPU's steady window: without the instant start and the viewers leaving.
    p2p_share_steady: round(p2pShareBetween(peers, steadyFrom, steadyTo) ?? Number.NaN, 4),
    cdn_bytes: sumFinal(peers, 'bytes_cdn'),
    seed_bytes: sumFinal(peers, 'bytes_seed'),
    p2p_bytes: sumFinal(peers, 'bytes_p2p'),
    stalls: sumFinal(peers, 'stalls'),
    stall_seconds: round(sumFinal(peers, 'stall_s'), 2),
    latency_s_median: round(median(latencies), 3),
    latency_s_p95: round(percentile(latencies, 95), 3),
    startup_ms_median: round(median(ttffs), 0),
    cpu_s_per_viewer: round(peers.reduce((a, p) => a + cpuSeconds(p), 0) / n, 2),
    cpu_pct_per_viewer_steady: steady('all'),
    native_cpu_pct_per_viewer: steady('native'),
    steady_window_s: round((steadyTo - steadyFrom) / 1000, 1),
    startup_cpu_s_per_viewer: round(median(startupCpu), 2),
    rss_mb_per_viewer: round(median(peers.map((p) => maxRssMb(p))), 1),
    private_mb_per_viewer: round(median(peers.map((p) => maxRssMb(p, 'anon'))), 1),
    ...(run.busy
      ? { busy_core_pct: round(cpuPct(run.busy, run.firstSpawn, steadyTo) ?? Number.NaN, 1) }
      : {}),
  };
  printLine({ run: mode, ...figures });
  return figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...swarmFlags(30),
      duration: { type: 'string', default: '120' },
      modes: { type: 'string', default: 'normal,loaded,small3,small5,small5-loaded,low,off' },
      /** Write every viewer's stats lines here (JSON lines with a viewer index), for a closer look. */
      dump: { type: 'string' },
    },
  });
  const viewers = Number(values.viewers);
  const seeds = Number(values.seeds);
  const duration = Number(values.duration);
  const modes = values.modes.split(',');
  const unknown = modes.filter((m) => !isMode(m));
  if (unknown.length > 0)
    throw new Error(`--modes: unknown ${unknown.join(', ')} (${Object.keys(MODES).join(', ')})`);
  const results = new Map<Mode, Figures>();
  for (const mode of modes as Mode[]) {
    results.set(mode, await runOnce(mode, MODES[mode].viewers ?? viewers, seeds, duration, values.dump));
  }
  const normal = results.get('normal') ?? {};
  const loaded = results.get('loaded');
  const small3 = results.get('small3');
  const small5 = results.get('small5');
  const small5Loaded = results.get('small5-loaded');
  const low = results.get('low');
  const off = results.get('off');
  await writeSummary(
    'swarm',
    {
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
      cpu_pct_per_viewer_steady: normal.cpu_pct_per_viewer_steady ?? null,
      native_cpu_pct_per_viewer: normal.native_cpu_pct_per_viewer ?? null,
      startup_cpu_s_per_viewer: normal.startup_cpu_s_per_viewer ?? null,
      rss_mb_per_viewer: normal.rss_mb_per_viewer ?? null,
      private_mb_per_viewer: normal.private_mb_per_viewer ?? null,
      loaded_p2p_share: loaded?.p2p_share ?? null,
      loaded_stalls: loaded?.stalls ?? null,
      loaded_latency_s_median: loaded?.latency_s_median ?? null,
      loaded_cpu_pct_per_viewer_steady: loaded?.cpu_pct_per_viewer_steady ?? null,
      small3_p2p_share: small3?.p2p_share ?? null,
      small3_p2p_share_steady: small3?.p2p_share_steady ?? null,
      small3_stalls: small3?.stalls ?? null,
      small5_p2p_share: small5?.p2p_share ?? null,
      small5_p2p_share_steady: small5?.p2p_share_steady ?? null,
      small5_stalls: small5?.stalls ?? null,
      small5_loaded_p2p_share: small5Loaded?.p2p_share ?? null,
      small5_loaded_stalls: small5Loaded?.stalls ?? null,
      low_p2p_share: low?.p2p_share ?? null,
      low_stalls: low?.stalls ?? null,
      low_latency_s_median: low?.latency_s_median ?? null,
      low_latency_s_p95: low?.latency_s_p95 ?? null,
      low_startup_ms_median: low?.startup_ms_median ?? null,
      off_latency_s_median: off?.latency_s_median ?? null,
      off_stalls: off?.stalls ?? null,
    },
    !values['no-save'],
  );
}

main().catch((err) => {
  process.stderr.write(`bench:swarm failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
