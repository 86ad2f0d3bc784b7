/**
 * bench:soak — does a viewer's cost creep up over time? One server (demo channel), one seed
 * and 10 viewers (bench/procs.ts) play for N minutes; every viewer's CPU and RSS are read from
 * /proc once a second. The figures compare the first tenth of the run (after a WARMUP_S
 * warm-up; at least half a tenth long when the run is short) with the last tenth: % of one
 * core (all threads) and mean RSS per viewer, averaged over viewers. The run's clock starts
 * when the last viewer was spawned and ends when the first has played N minutes, so every
 * viewer is there the whole time. A progress line comes once a minute.
 *
 * The machine's speed is the run's own baseline (bench/calibrate.ts): a fixed piece of work is
 * timed every 2 s, and `machine_slowdown` is its median time in the last tenth over the first.
 * `cpu_ratio_net` = (cpu_pct_last / cpu_pct_first) / machine_slowdown: the creep that is the
 * viewer's, not the VM's. The raw figures stay beside it.
 *
 *   npm run bench:soak -- [--minutes 10] [--viewers 10] [--seeds 1] [--loaded] [--no-save]
 *
 * --loaded keeps a busy loop spinning on one core the whole time (the user's game or build
 * beside the viewer) and writes bench/results/soak-loaded.json instead; --no-save prints the
 * summary without writing the results file (for smoke runs).
 */
import { parseArgs } from 'node:util';
import { startCalibration } from './calibrate';
import { cpuPct, meanPerViewer, p2pShare, rssMb, runSwarm, sumFinal, swarmFlags } from './procs';
import { printLine, round, writeSummary } from './report';

const WARMUP_S = 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      loaded: { type: 'boolean', default: false },
      ...swarmFlags(10),
    },
  });
  const minutes = Number(values.minutes);
  const viewers = Number(values.viewers);
  const seeds = Number(values.seeds);
  if (!(minutes > 0)) throw new Error(`--minutes: not a number of minutes: ${values.minutes}`);
  const durationS = Math.round(minutes * 60);

  const calibration = startCalibration();
  let nextMinute = Date.now() + 60_000;
  const run = await runSwarm({
    viewers,
    seeds,
    durationS,
    busyCore: values.loaded,
    onSample: (peers) => {
      const now = Date.now();
      if (now < nextMinute) return;
      printLine({
        minute: Math.round((now - (peers[0]?.spawnedAt ?? now)) / 60_000),
        cpu_pct: meanPerViewer(peers, (p) => cpuPct(p, now - 60_000, now), 2),
        rss_mb: meanPerViewer(peers, (p) => rssMb(p, now - 2000, now), 1),
        stalls: sumFinal(peers, 'stalls'),
        p2p_share: round(p2pShare(peers), 4),
        calib_ms: round(calibration.medianMs(now - 60_000, now) ?? Number.NaN, 2),
      });
      nextMinute += 60_000;
    },
  });
  calibration.stop();
  const { peers } = run;
  const start = run.lastSpawn;
  const end = run.firstSpawn + durationS * 1000;
  const tenth = (end - start) / 10;
  const first: [number, number] = [
    start + WARMUP_S * 1000,
    Math.max(start + tenth, start + WARMUP_S * 1000 + tenth / 2),
  ];
  const last: [number, number] = [end - tenth, end];
  const cpuFirst = meanPerViewer(peers, (p) => cpuPct(p, ...first), 2);
  const cpuLast = meanPerViewer(peers, (p) => cpuPct(p, ...last), 2);
  const calibFirst = calibration.medianMs(...first);
  const calibLast = calibration.medianMs(...last);
  const slowdown = calibFirst && calibLast ? calibLast / calibFirst : null;
  await writeSummary(
    values.loaded ? 'soak-loaded' : 'soak',
    {
      minutes,
      loaded: values.loaded,
      viewers,
      seeds,
      completed: peers.filter((p) => p.last()?.t !== undefined).length,
      cpu_pct_first: cpuFirst,
      cpu_pct_last: cpuLast,
      calib_ms_first: calibFirst === null ? null : round(calibFirst, 2),
      calib_ms_last: calibLast === null ? null : round(calibLast, 2),
      machine_slowdown: slowdown === null ? null : round(slowdown, 3),
      cpu_ratio_net: slowdown === null ? null : round(cpuLast / cpuFirst / slowdown, 3),
      rss_mb_first: meanPerViewer(peers, (p) => rssMb(p, ...first), 1),
      rss_mb_last: meanPerViewer(peers, (p) => rssMb(p, ...last), 1),
      first_window_s: [round((first[0] - start) / 1000, 1), round((first[1] - start) / 1000, 1)].join('-'),
      last_window_s: [round((last[0] - start) / 1000, 1), round((last[1] - start) / 1000, 1)].join('-'),
      stalls: sumFinal(peers, 'stalls'),
      stall_seconds: round(sumFinal(peers, 'stall_s'), 2),
      p2p_share: round(p2pShare(peers), 4),
      ...(run.busy ? { busy_core_pct: round(cpuPct(run.busy, start, end) ?? Number.NaN, 1) } : {}),
    },
    !values['no-save'],
  );
}

main().catch((err) => {
  process.stderr.write(`bench:soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
