/**
 * Neighbour policy, as pure functions of an injected clock: which neighbour to ask for a
 * segment, and which one to replace ("nodes compete and evolve"). The peer node calls them;
 * which segment comes from where is the engine's planner (main/core/planner.ts).
 */
import type { PeerRole } from '../../common/tracker-protocol';

export interface NeighbourView {
  id: string;
  role: PeerRole;
  /** Transfers in flight from this neighbour to us. */
  inflight: number;
  /** Measured delivery rate (bytes/ms), or null before the first transfer. */
  bytesPerMs: number | null;
  successes: number;
  failures: number;
  /** Refused us recently (busy / over its cap) until this time. */
  backoffUntil: number;
}

/** Transfers one neighbour runs for us at once. */
export const MAX_INFLIGHT_PER_PEER = 2;
/**
 * A neighbour we could not connect to is dialled again after UNREACHABLE_RETRY_MS once, then
 * after UNREACHABLE_BACKOFF_MS, doubling up to the max (ms) — see unreachableBackoffMs.
 */
export const UNREACHABLE_RETRY_MS = 3000;
export const UNREACHABLE_BACKOFF_MS = 30_000;
export const UNREACHABLE_BACKOFF_MAX_MS = 5 * 60_000;

/**
 * How long a neighbour whose link never opened is left alone, given the back-off its last such
 * failure got (null: none). A first failure is often passing: where viewers start together a
 * link can fail at once while both ends are busy starting. In bench:swarm's 5-viewer room such
 * a pair stayed unlinked 30 s, or 97 s when its one retry failed too (2 runs of 12, and 1 of 5
 * logged rooms), and a small room whose members see different rooms takes more copies from the
 * CDN (planner.ts, firstCopyBackupMs). So the first retry comes after seconds; a pair that fails
 * again (two NATs that cannot meet) waits long, as before.
 */
export function unreachableBackoffMs(previousMs: number | null): number {
  if (previousMs === null) return UNREACHABLE_RETRY_MS;
  if (previousMs < UNREACHABLE_BACKOFF_MS) return UNREACHABLE_BACKOFF_MS;
  return Math.min(previousMs * 2, UNREACHABLE_BACKOFF_MAX_MS);
}
/** A neighbour dropped for failing us is not dialled again for this long (ms). */
export const FAILING_BACKOFF_MS = 60_000;

/**
 * Tracker lookups while a node has room for more neighbours: the first at once, the next after
 * LOOKUP_MIN_MS, doubling up to LOOKUP_MAX_MS while lookups bring nobody new (a small room
 * where everyone is already linked would otherwise ask the tracker twice a second forever;
 * newcomers dial us themselves). A lookup that found someone, or a neighbour lost, starts over.
 */
export const LOOKUP_MIN_MS = 500;
export const LOOKUP_MAX_MS = 8000;

/** The wait (ms) before the next lookup, given the last wait and whether the last lookup added anyone. */
export function nextLookupDelayMs(lastDelayMs: number, added: number): number {
  if (added > 0) return LOOKUP_MIN_MS;
  return Math.min(LOOKUP_MAX_MS, Math.max(LOOKUP_MIN_MS, lastDelayMs * 2));
}

/** A neighbour that refused us as busy (or for a bad request) is left alone this long (ms). */
export const BUSY_BACKOFF_MS = 400;
/** After the first "over cap" refusal from a seed, doubling per refusal in a row up to the max (ms). */
export const OVER_CAP_BACKOFF_MS = 1000;
export const OVER_CAP_BACKOFF_MAX_MS = 8000;

export type Refusal = 'not-have' | 'busy' | 'over-cap';

/**
 * How long to leave a neighbour alone after it refused a request. "Not have" costs nothing (it
 * may have the segment a moment later). A seed's "over cap" means its few copies of each new
 * segment go to whoever asks first: the viewers that lost the race ask it less and less often
 * (`overCapStreak` such refusals in a row; any other answer starts over) and take the segment from the
 * winners instead — the copies still go out, without every viewer in the room asking the seed
 * for every segment and being turned away (BitTorrent's super-seeding, from the downloader's
 * side). A loser asks again within seconds, so a winner that left is replaced soon.
 */
export function refusalBackoffMs(refusal: Refusal, overCapStreak: number): number {
  switch (refusal) {
    case 'not-have':
      return 0;
    case 'busy':
      return BUSY_BACKOFF_MS;
    case 'over-cap':
      return Math.min(OVER_CAP_BACKOFF_MAX_MS, OVER_CAP_BACKOFF_MS * 2 ** Math.max(0, overCapStreak - 1));
    default: {
      const never: never = refusal;
      throw new Error(`unknown refusal ${String(never)}`);
    }
  }
}

/** Links a node keeps by default (a seed serves more viewers than a viewer has neighbours). */
export function defaultMaxNeighbours(role: PeerRole): number {
  return role === 'seed' ? 24 : 8;
}

/** Assumed rate of a neighbour we have not measured yet: high enough to get tried. */
export const OPTIMISTIC_BYTES_PER_MS = 2000;

/** Higher is better: expected delivery rate, discounted by unreliability and current load. */
export function neighbourScore(n: NeighbourView): number {
  const reliability = (n.successes + 1) / (n.successes + n.failures + 2);
  const rate = n.bytesPerMs ?? OPTIMISTIC_BYTES_PER_MS;
  // Seeds hand out few copies of each segment: ask a viewer first when one is as good.
  const roleFactor = n.role === 'seed' ? 0.5 : 1;
  return (rate * reliability * roleFactor) / (1 + n.inflight);
}

/**
 * A segment needed no sooner than this (ms) may go to a neighbour never tried yet: a failure
 * still leaves time for another holder or the CDN (the planner's peerJudgeMs and CDN margin).
 */
export const PROBE_SLACK_MS = 2500;

/** Never asked for anything yet (nothing delivered, nothing failed, nothing in flight). */
function untried(n: NeighbourView): boolean {
  return n.successes + n.failures === 0 && n.inflight === 0;
}

/**
 * The neighbour to ask for a segment among those that hold it, or null. Mostly the best
 * score; but when the segment is `slackMs` or more away, an untried viewer goes first (then
 * an untried seed): every new neighbour is measured on its first useful segment instead of
 * waiting until the measured ones are busy — and one that announces what it will not deliver
 * is found out (and banned) within a segment or two of linking (libtorrent's optimistic
 * unchoke, from the downloader's side).
 */
export function chooseNeighbour(
  now: number,
  holders: readonly NeighbourView[],
  maxInflightPerPeer: number,
  slackMs = 0,
): NeighbourView | null {
  let best: NeighbourView | null = null;
  let bestScore = -1;
  let probe: NeighbourView | null = null;
  for (const n of holders) {
    if (n.backoffUntil > now || n.inflight >= maxInflightPerPeer) continue;
    if (slackMs >= PROBE_SLACK_MS && untried(n)) {
      const better =
        !probe || (probe.role === 'seed' && n.role !== 'seed') || (probe.role === n.role && n.id < probe.id);
      if (better) probe = n;
    }
    const s = neighbourScore(n);
    if (s > bestScore || (s === bestScore && best && n.id < best.id)) {
      best = n;
      bestScore = s;
    }
  }
  return probe ?? best;
}

/**
 * Neighbours compete: the one to replace, if any. Only once we have enough neighbours and
 * the worst has had a fair trial (some transfers) and scores far below the median.
 */
export function worstNeighbour(
  neighbours: readonly NeighbourView[],
  minNeighbours: number,
): NeighbourView | null {
  if (neighbours.length < minNeighbours) return null;
  const tried = neighbours.filter((n) => n.role === 'viewer' && n.successes + n.failures >= 3);
  if (tried.length < 3) return null;
  const scored = tried.map((n) => ({ n, s: neighbourScore(n) })).sort((a, b) => a.s - b.s);
  const median = scored[Math.floor(scored.length / 2)]!.s;
  const worst = scored[0]!;
  return worst.s < median * 0.25 ? worst.n : null;
}

/**
 * Neighbours that only fail us: asked at least `minTries` times (refusals, silence, trickling,
 * not-have after announcing) and never delivered. Whatever their role — a "seed" that never
 * serves is no seed — they are dropped, so their place goes to someone useful.
 */
export function failingNeighbours<T extends NeighbourView>(neighbours: readonly T[], minTries = 4): T[] {
  return neighbours.filter((n) => n.successes === 0 && n.failures >= minTries);
}
