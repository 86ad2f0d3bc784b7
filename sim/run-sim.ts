/**
 * npm run sim:swarm — the swarm simulator (sim/swarm-sim.ts) on one large room, run twice with
 * the same seed: once with ISP/region hints (ISP-aware sub-rooms and neighbours), once
 * without (random neighbours), so that the cross-ISP share can be compared on the same room.
 * Prints one JSON object per run, then the summary as `key value` lines.
 *
 *   npm run sim:swarm -- [--viewers 100000] [--bitrate-kbps 4000] [--duration 60] [--seed 1]
 *                        [--sub-room-size 1000] [--seeds 1] [--seed-copies 4]
 *                        [--session-mean 600] [--ramp 20] [--upload-scale 1]
 *                        [--scenario large|bench-swarm] [--no-random]
 *   what-ifs (not what the app does today): [--latency-target-ms 4000] (the app: by sub-room size)
 *                        [--uplink-sharing links] (the app: serial) [--admission in-time] (the app: all)
 *   bench-swarm only:    [--machine-speed 1]
 *
 * `p2p_share` counts the steady window (from 10 s after the last initial arrival to the
 * end: arrivals and departures go on, start-ups of the replacements included); `p2p_share_all`
 * every byte of the run. With --bitrate-kbps ≥ 10000 the steady share is printed as
 * `p2p_share_4k`.
 *
 * --scenario bench-swarm reproduces bench:swarm's normal, small3 and small5 modes (bench/swarm.ts,
 * bench/procs.ts): 30 (3, 5) viewers started 0.4 s apart, each playing 120 s, one seed handing
 * out one copy of each segment (none in small rooms), the demo channel (≈1.06 Mbit/s), all on
 * loopback on one 2-core machine; each p2p share is compared with the latest recorded
 * bench:swarm figure (sim/scenarios.ts, from bench/results/swarm.json).
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { BENCH_SWARM_REAL, BENCH_SWARM_SCENARIO, type BenchSwarmMode, benchSwarmConfig } from './scenarios';
import { DEFAULT_CONFIG, runSim, type SimConfig, type SimResult } from './swarm-sim';
import { meanUploadMbps } from './upload-distribution';

function summary(key: string, value: number | string): void {
  process.stdout.write(`${key} ${typeof value === 'number' ? Number(value.toFixed(4)) : value}\n`);
}

function line(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function brief(r: SimResult): Record<string, unknown> {
  return {
    viewers: r.viewers,
    sessions: r.sessions,
    sub_rooms: r.subRooms,
    seeds: r.seeds,
    p2p_share: Number(r.p2pShare.toFixed(4)),
    p2p_share_all: Number(r.p2pShareAll.toFixed(4)),
    seed_share_all: Number(r.seedShareAll.toFixed(4)),
    stall_ratio: Number(r.stallRatio.toFixed(5)),
    cross_isp_share: Number(r.crossIspShare.toFixed(4)),
    startup_ms_median: Math.round(r.startupMsMedian),
    upload_to_demand: Number(r.uploadToDemand.toFixed(3)),
    mean_uplink_busy: Number(r.meanUplinkBusy.toFixed(3)),
    max_uplink_use: Number(r.maxUplinkUse.toFixed(4)),
    bytes_uploaded: Math.round(r.bytesUploaded),
    bytes_peer_wire: Math.round(r.bytesPeerWire),
    links_failed_nat: r.linksFailedNat,
    events: r.events,
    wall_s: Number(r.wallS.toFixed(1)),
    cpu_s: Number(r.cpuS.toFixed(1)),
    counts: r.counts,
  };
}

/** The random-choice run in a child process (same flags, same seed), on the other core. */
function randomInChild(): Promise<SimResult> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, [...process.argv.slice(2), '--only-random'], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let result: SimResult | null = null;
    child.on('message', (m) => {
      result = m as SimResult;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`the random-choice run exited with ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      viewers: { type: 'string' },
      'bitrate-kbps': { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'sub-room-size': { type: 'string' },
      seeds: { type: 'string' },
      'seed-copies': { type: 'string' },
      'session-mean': { type: 'string' },
      ramp: { type: 'string' },
      'upload-scale': { type: 'string' },
      'latency-target-ms': { type: 'string' },
      'uplink-sharing': { type: 'string' },
      admission: { type: 'string' },
      /** bench-swarm: the machine's speed relative to the day bench:swarm's CPU figures were taken. */
      'machine-speed': { type: 'string' },
      scenario: { type: 'string', default: 'large' },
      'no-random': { type: 'boolean', default: false },
      /** Run the two runs one after the other instead of on two cores. */
      sequential: { type: 'boolean', default: false },
      /** Internal: the child process that runs only the random-choice run. */
      'only-random': { type: 'boolean', default: false },
    },
  });
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = v === 'Infinity' ? Number.POSITIVE_INFINITY : Number(v);
    if (!(n >= 0)) throw new Error(`--${name}: a number ≥ 0, got ${v}`);
    return n;
  };
  const bench = values.scenario === 'bench-swarm';
  if (!bench && values.scenario !== 'large')
    throw new Error(`--scenario: large or bench-swarm, got ${values.scenario}`);
  const base: SimConfig = { ...DEFAULT_CONFIG, ...(bench ? BENCH_SWARM_SCENARIO : { viewers: 100_000 }) };
  const given: Partial<SimConfig> = {};
  const set = <K extends keyof SimConfig>(k: K, v: SimConfig[K] | undefined) => {
    if (v !== undefined) given[k] = v;
  };
  set('viewers', num(values.viewers, 'viewers'));
  set('bitrateKbps', num(values['bitrate-kbps'], 'bitrate-kbps'));
  set('durationS', num(values.duration, 'duration'));
  set('seed', num(values.seed, 'seed'));
  set('subRoomSize', num(values['sub-room-size'], 'sub-room-size'));
  set('seedsPerSubRoom', num(values.seeds, 'seeds'));
  set('seedCopies', num(values['seed-copies'], 'seed-copies'));
  set('sessionMeanS', num(values['session-mean'], 'session-mean'));
  set('rampS', num(values.ramp, 'ramp'));
  set('uploadScale', num(values['upload-scale'], 'upload-scale'));
  set('latencyTargetMs', num(values['latency-target-ms'], 'latency-target-ms'));
  const sharing = values['uplink-sharing'];
  if (sharing !== undefined && sharing !== 'links' && sharing !== 'serial')
    throw new Error(`--uplink-sharing: links or serial, got ${sharing}`);
  set('uplinkSharing', sharing);
  const admission = values.admission;
  if (admission !== undefined && admission !== 'all' && admission !== 'in-time')
    throw new Error(`--admission: all or in-time, got ${admission}`);
  set('admission', admission);
  const speed = num(values['machine-speed'], 'machine-speed');
  if (speed !== undefined && base.machine)
    set('machine', { ...base.machine, cores: base.machine.cores * speed });
  const cfg: SimConfig = {
    ...base,
    ...given,
    progress: (p) =>
      process.stderr.write(
        `t=${p.simS.toFixed(0)}s viewers=${p.viewers} events=${p.events} cpu_s=${p.cpuS.toFixed(1)}\n`,
      ),
  };
  const wall0 = performance.now();
  if (bench) return benchSwarm(given, wall0);
  if (values['only-random']) {
    process.send?.(runSim({ ...cfg, ispAware: false, progress: undefined }));
    return;
  }
  const wantRandom = !values['no-random'];
  const parallel = wantRandom && !values.sequential ? randomInChild() : null;
  const aware = runSim({ ...cfg, ispAware: true });
  line({ run: 'isp-aware', ...brief(aware) });
  let random: SimResult | null = null;
  if (wantRandom) {
    random = parallel ? await parallel : runSim({ ...cfg, ispAware: false });
    line({ run: 'random', ...brief(random) });
  }
  summary('viewers', cfg.viewers);
  summary('sub_rooms', aware.subRooms);
  summary('seeds', aware.seeds);
  summary('bitrate_kbps', cfg.bitrateKbps);
  summary(cfg.bitrateKbps >= 10_000 ? 'p2p_share_4k' : 'p2p_share', aware.p2pShare);
  summary('p2p_share_all', aware.p2pShareAll);
  summary('seed_share_all', aware.seedShareAll);
  summary('stall_ratio', aware.stallRatio);
  summary('startup_ms_median', Math.round(aware.startupMsMedian));
  summary('cross_isp_share', aware.crossIspShare);
  if (random) {
    summary('cross_isp_share_random', random.crossIspShare);
    summary('p2p_share_random', random.p2pShare);
  }
  summary('upload_mbps_mean', meanUploadMbps() * cfg.uploadScale);
  summary('upload_to_demand', aware.uploadToDemand);
  summary('mean_uplink_busy', aware.meanUplinkBusy);
  summary('max_uplink_use', aware.maxUplinkUse);
  summary('conservation_diff_bytes', Math.round(aware.bytesUploaded - aware.bytesPeerWire));
  summary('wall_s', (performance.now() - wall0) / 1000);
}

/**
 * bench:swarm's normal, small3 and small5 rooms, each compared with the real run's p2p share
 * (bench:swarm counts every byte from each viewer's start: the whole-run share).
 */
function benchSwarm(given: Partial<SimConfig>, wall0: number): void {
  for (const mode of ['normal', 'small3', 'small5'] as BenchSwarmMode[]) {
    const r = runSim({ ...DEFAULT_CONFIG, ...benchSwarmConfig(mode), ...given });
    line({ run: `bench-swarm-${mode}`, ...brief(r) });
    summary(`p2p_share_${mode}`, r.p2pShareAll);
    summary(`p2p_share_${mode}_real`, BENCH_SWARM_REAL[mode]);
    summary(`p2p_share_${mode}_diff`, r.p2pShareAll - BENCH_SWARM_REAL[mode]);
    summary(`stall_ratio_${mode}`, r.stallRatio);
  }
  summary('real_run_date', BENCH_SWARM_REAL.date);
  summary('wall_s', (performance.now() - wall0) / 1000);
}

main().catch((err: unknown) => {
  process.stderr.write(`sim:swarm failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
