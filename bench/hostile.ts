/**
 * bench:hostile — honest viewers beside hostile neighbours. For each behaviour of
 * test/support/hostile-peer.ts, a swarm on loopback (bench/procs.ts: one server process, the
 * seed(s), 3 `swarmcast peer` viewers) plays for --duration seconds while K hostile peers of
 * that behaviour (in this process) join the sub-room as the first viewer starts; and once with
 * no hostile peer (the baseline), in the same run. Figures per behaviour:
 *   <mode>_stalls       stalls over all honest viewers (target 0);
 *   <mode>_p2p_share    share of the honest viewers' bytes that came from other viewers;
 *   <mode>_rss_mb_max   largest RSS of any honest viewer (compare baseline_rss_mb_max: ≤ 30 MB more);
 *   <mode>_ban_s        seconds from the hostile peers' start to the first ban any honest viewer
 *                       reports (its peers_banned counter), null when none banned one (target ≤ 5);
 *   <mode>_ban_after_link_s  the same from the first link an honest viewer opened with a hostile
 *                       peer (its Hello): the judging alone, without the tracker round and the
 *                       ICE/DTLS set-up, which on a loaded machine take seconds themselves.
 * A line per run also gives the hostile peers' own counts (requests seen, bytes sent, drops),
 * drop_s (seconds to the first link a neighbour closed on a hostile peer: a ban, or a drop of
 * a neighbour that never delivers, which peers_banned does not count), link_s and request_s
 * (seconds to the first honest viewer's Hello to a hostile peer and to the first request one was sent:
 * what part of ban_s is discovery and start-up rather than judging) and wall_s.
 *
 * The hostile peers need the server's URL, which runSwarm keeps to itself: they take it from
 * the first viewer's command line. Numbers taken while other heavy work shares the machine
 * (load average far above the cores) are not comparable: start-ups slow down and stall.
 *
 *   npm run bench:hostile -- [--duration 60] [--hostile 3] [--viewers 3] [--seeds 1]
 *                            [--modes oversize,withhold,…] [--dump FILE] [--no-save]
 *
 * --no-save prints the summary without writing bench/results/hostile.json (for smoke runs);
 * --dump appends every honest viewer's stats lines (JSON lines with mode and viewer index).
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cleanup as closeNativeRtc } from 'node-datachannel';
import {
  HOSTILE_BEHAVIOURS,
  type HostileBehaviour,
  type HostileCounts,
  type HostilePeer,
  startHostilePeers,
} from '../test/support/hostile-peer';
import { maxRssMb, type Proc, p2pShare, runSwarm, sumFinal, swarmFlags } from './procs';
import { type Figures, printLine, round, writeSummary } from './report';

type Mode = HostileBehaviour | 'baseline';

interface ModeResult {
  stalls: number;
  p2pShare: number;
  rssMbMax: number;
  banS: number | null;
  banAfterLinkS: number | null;
}

function isBehaviour(m: string): m is HostileBehaviour {
  return (HOSTILE_BEHAVIOURS as readonly string[]).includes(m);
}

/** The server URL a viewer was started with (runSwarm starts the server and keeps its URL). */
function serverUrlOf(p: Proc): string {
  const args = p.child.spawnargs;
  const i = args.indexOf('--server');
  if (i < 0 || !args[i + 1]) throw new Error('viewer started without --server');
  return args[i + 1]!;
}

/** The hostile peers' counts added up. */
function totals(hostile: readonly HostilePeer[]): Partial<HostileCounts> {
  const out: Record<string, number> = {};
  for (const h of hostile) {
    for (const [k, v] of Object.entries(h.counts))
      if (typeof v === 'number' && !k.startsWith('first')) out[k] = (out[k] ?? 0) + v;
  }
  return out;
}

/** Seconds from the hostile peers' start to the first `key` event of any of them (a link a neighbour closed, …). */
function firstS(
  hostile: readonly HostilePeer[],
  key: 'firstDropAt' | 'firstLinkAt' | 'firstRequestAt',
  startedAt: number | null,
): number | null {
  const at = hostile.map((h) => h.counts[key]).filter((t) => t !== null);
  return startedAt === null || at.length === 0 ? null : round((Math.min(...at) - startedAt) / 1000, 1);
}

async function runMode(
  mode: Mode,
  o: { viewers: number; seeds: number; durationS: number; hostile: number; dump?: string },
): Promise<ModeResult> {
  const began = Date.now();
  const s = {
    hostile: [] as HostilePeer[],
    starting: null as Promise<void> | null,
    /** Date.now() when the hostile peers were started, and of the first ban an honest viewer reported. */
    hostileAt: null as number | null,
    firstBanAt: null as number | null,
  };
  const watched = new Set<Proc>();
  const noteBan = (p: Proc) => {
    if (s.firstBanAt === null && Number(p.last()?.peers_banned ?? 0) > 0) s.firstBanAt = Date.now();
  };
  const run = await runSwarm({
    viewers: o.viewers,
    seeds: o.seeds,
    durationS: o.durationS,
    onSample: (peers) => {
      for (const p of peers) {
        if (watched.has(p)) continue;
        watched.add(p);
        // Each stats line as it comes: the first ban is timed to the line, not to the sampling round.
        p.child.stdout?.on('data', () => noteBan(p));
        noteBan(p);
      }
      if (mode === 'baseline' || s.starting || peers.length === 0) return;
      s.hostileAt = Date.now();
      s.starting = startHostilePeers(serverUrlOf(peers[0]!), 'demo', [mode], o.hostile).then(
        (h) => {
          s.hostile = h;
        },
        (err: unknown) => printLine({ warning: `hostile peers did not start: ${String(err)}` }),
      );
    },
  });
  await s.starting;
  const hostile = s.hostile;
  await Promise.all(hostile.map((h) => h.close()));
  const { peers } = run;
  if (o.dump) {
    const rows = peers.flatMap((p, i) => p.lines.map((l) => JSON.stringify({ mode, viewer: i, ...l })));
    appendFileSync(o.dump, `${rows.join('\n')}\n`);
  }
  const result: ModeResult = {
    stalls: sumFinal(peers, 'stalls'),
    p2pShare: round(p2pShare(peers), 4),
    rssMbMax: round(Math.max(0, ...peers.map((p) => maxRssMb(p))), 1),
    banS:
      s.firstBanAt !== null && s.hostileAt !== null ? round((s.firstBanAt - s.hostileAt) / 1000, 1) : null,
    banAfterLinkS: null,
  };
  const linkS = firstS(hostile, 'firstLinkAt', s.hostileAt);
  if (result.banS !== null && linkS !== null)
    result.banAfterLinkS = round(Math.max(0, result.banS - linkS), 1);
  printLine({
    run: mode,
    hostile_peers: hostile.length,
    stalls: result.stalls,
    stall_seconds: round(sumFinal(peers, 'stall_s'), 2),
    p2p_share: result.p2pShare,
    cdn_bytes: sumFinal(peers, 'bytes_cdn'),
    seed_bytes: sumFinal(peers, 'bytes_seed'),
    p2p_bytes: sumFinal(peers, 'bytes_p2p'),
    peers_banned: sumFinal(peers, 'peers_banned'),
    rss_mb_max: result.rssMbMax,
    ban_s: result.banS,
    ban_after_link_s: result.banAfterLinkS,
    // When a neighbour first closed a hostile peer's link (a ban, or a drop that is no ban).
    drop_s: firstS(hostile, 'firstDropAt', s.hostileAt),
    // When the first honest viewer said Hello to a hostile peer, and the first request reached one.
    link_s: linkS,
    request_s: firstS(hostile, 'firstRequestAt', s.hostileAt),
    wall_s: round((Date.now() - began) / 1000, 1),
    ...(mode === 'baseline' ? {} : { hostile: totals(hostile) }),
  });
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...swarmFlags(3),
      duration: { type: 'string', default: '60' },
      /** Hostile peers per behaviour. */
      hostile: { type: 'string', default: '3' },
      modes: { type: 'string', default: HOSTILE_BEHAVIOURS.join(',') },
      dump: { type: 'string' },
    },
  });
  const o = {
    viewers: Number(values.viewers),
    seeds: Number(values.seeds),
    durationS: Number(values.duration),
    hostile: Number(values.hostile),
    dump: values.dump,
  };
  if (!(o.durationS > 0)) throw new Error(`--duration: not a number of seconds: ${values.duration}`);
  if (!Number.isInteger(o.hostile) || o.hostile < 1)
    throw new Error(`--hostile: a count, got ${values.hostile}`);
  const modes = values.modes.split(',').filter((m) => m !== '');
  const unknown = modes.filter((m) => !isBehaviour(m));
  if (unknown.length > 0)
    throw new Error(`--modes: unknown ${unknown.join(', ')} (${HOSTILE_BEHAVIOURS.join(', ')})`);

  const baseline = await runMode('baseline', o);
  const figures: Figures = {
    viewers: o.viewers,
    seeds: o.seeds,
    hostile_per_mode: o.hostile,
    duration_s: o.durationS,
    baseline_stalls: baseline.stalls,
    baseline_p2p_share: baseline.p2pShare,
    baseline_rss_mb_max: baseline.rssMbMax,
  };
  for (const mode of modes as HostileBehaviour[]) {
    const r = await runMode(mode, o);
    figures[`${mode}_stalls`] = r.stalls;
    figures[`${mode}_p2p_share`] = r.p2pShare;
    figures[`${mode}_rss_mb_max`] = r.rssMbMax;
    figures[`${mode}_ban_s`] = r.banS;
    figures[`${mode}_ban_after_link_s`] = r.banAfterLinkS;
  }
  await writeSummary('hostile', figures, !values['no-save']);
  // A peer connection closed while its channel still had data queued (oversize pushes 256 KiB
  // at a time) can keep node-datachannel's threads, and so this process, alive: release them.
  closeNativeRtc();
}

main().catch((err) => {
  process.stderr.write(`bench:hostile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
