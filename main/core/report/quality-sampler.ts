/**
 * Turns two snapshots of a channel's running totals into one quality report (common/
 * quality-report.ts): counters become deltas over the period, gauges are taken at its end, and
 * every figure is clamped into the schema's ranges so a suspended laptop or a counter reset
 * (a new player) never produces a report the log server would refuse. Pure.
 */
import { MAX_REPORT_PERIOD_S, type QualityReport, REPORT_VERSION } from '../../../common/quality-report';

/** Running totals of one joined channel, as the session and its player report them. */
export interface QualityTotals {
  /** Wall clock of the snapshot (ms). */
  at: number;
  /** Time to first frame of the player, once it has one. */
  ttffMs: number | null;
  stalls: number;
  stallSeconds: number;
  latencyS: number | null;
  bytesCdn: number;
  bytesPeer: number;
  bytesSeed: number;
  bytesUp: number;
  peers: number;
  connectivity: QualityReport['connectivity'];
  /** Cumulative error counts by kind. */
  errors: Readonly<Record<string, number>>;
}

export interface ReportMeta {
  viewer: string;
  channel: string;
  app: QualityReport['app'];
  /** Whether the start-up time was already sent in an earlier report of this viewing. */
  startupSent: boolean;
}

const MAX_BYTES = 10_000_000_000;
const MAX_COUNT = 1_000_000;

function delta(now: number, before: number, max: number): number {
  // A total that went down was reset (a new player): count from zero.
  const d = now >= before ? now - before : now;
  return Math.min(max, Math.max(0, Math.round(d)));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function makeReport(prev: QualityTotals, cur: QualityTotals, meta: ReportMeta): QualityReport {
  const periodS = round3(clamp((cur.at - prev.at) / 1000, 0, MAX_REPORT_PERIOD_S));
  const stallDelta =
    cur.stallSeconds >= prev.stallSeconds ? cur.stallSeconds - prev.stallSeconds : cur.stallSeconds;
  const stallS = round3(clamp(stallDelta, 0, periodS));
  const errors: Record<string, number> = {};
  for (const [kind, n] of Object.entries(cur.errors)) {
    const d = delta(n, prev.errors[kind] ?? 0, MAX_COUNT);
    if (d > 0 && Object.keys(errors).length < 8) errors[kind] = d;
  }
  return {
    v: REPORT_VERSION,
    viewer: meta.viewer,
    channel: meta.channel,
    at: Math.max(0, Math.round(cur.at)),
    periodS,
    // The player does not tell paused from playing; "watching" is the period less its stalls.
    watchS: cur.ttffMs === null ? 0 : round3(periodS - stallS),
    startupMs: meta.startupSent || cur.ttffMs === null ? null : Math.round(clamp(cur.ttffMs, 0, 600_000)),
    stalls: delta(cur.stalls, prev.stalls, MAX_COUNT),
    stallS,
    latencyS: cur.latencyS === null ? null : round3(clamp(cur.latencyS, 0, 3600)),
    bytes: {
      cdn: delta(cur.bytesCdn, prev.bytesCdn, MAX_BYTES),
      peer: delta(cur.bytesPeer, prev.bytesPeer, MAX_BYTES),
      seed: delta(cur.bytesSeed, prev.bytesSeed, MAX_BYTES),
    },
    uploadBytes: delta(cur.bytesUp, prev.bytesUp, MAX_BYTES),
    peers: clamp(Math.round(cur.peers), 0, MAX_COUNT),
    connectivity: {
      host: clamp(cur.connectivity.host, 0, MAX_COUNT),
      srflx: clamp(cur.connectivity.srflx, 0, MAX_COUNT),
      relay: clamp(cur.connectivity.relay, 0, MAX_COUNT),
    },
    errors,
    app: meta.app,
  };
}
