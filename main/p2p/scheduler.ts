/**
 * Scheduling policy, as pure functions of an injected clock: which segment to fetch from
 * where (CDN or peers), when to give up on a peer and go to the CDN, and which neighbour to
 * ask. The channel session calls `planFetches` from its one scheduling loop.
 */

export type SegmentState = 'missing' | 'cdn' | 'p2p' | 'have';

export interface SegmentView {
  seq: number;
  /** When the player needs the segment's first byte (ms on the injected clock). */
  deadline: number;
  size: number;
  state: SegmentState;
  /** Neighbours that announced the segment. */
  holders: number;
  /** A peer transfer in flight: bytes so far and its measured rate. */
  progress?: { received: number; bytesPerMs: number };
}

export interface SchedulePolicy {
  p2p: boolean;
  /** Go to the CDN when this close to the deadline (ms) without the data. */
  cdnMarginMs: number;
  maxCdnParallel: number;
  maxP2pParallel: number;
}

export type FetchDecision =
  | { seq: number; action: 'cdn' }
  | { seq: number; action: 'p2p' }
  /** The peer transfer will miss the deadline: cancel it and fetch from the CDN. */
  | { seq: number; action: 'move-to-cdn' };

export function planFetches(
  now: number,
  segments: readonly SegmentView[],
  policy: SchedulePolicy,
): FetchDecision[] {
  const out: FetchDecision[] = [];
  let cdn = segments.filter((s) => s.state === 'cdn').length;
  let p2p = segments.filter((s) => s.state === 'p2p').length;
  const byDeadline = [...segments].sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
  for (const s of byDeadline) {
    const urgent = now >= s.deadline - policy.cdnMarginMs;
    if (s.state === 'have' || s.state === 'cdn') continue;
    if (s.state === 'p2p') {
      if (!urgent) continue;
      const p = s.progress;
      const remaining = s.size - (p?.received ?? 0);
      const finish = p && p.bytesPerMs > 0 ? now + remaining / p.bytesPerMs : Number.POSITIVE_INFINITY;
      if (finish > s.deadline && cdn < policy.maxCdnParallel) {
        out.push({ seq: s.seq, action: 'move-to-cdn' });
        cdn++;
        p2p--;
      }
      continue;
    }
    // missing
    if (!policy.p2p || urgent) {
      if (cdn < policy.maxCdnParallel) {
        out.push({ seq: s.seq, action: 'cdn' });
        cdn++;
      }
      continue;
    }
    if (s.holders > 0 && p2p < policy.maxP2pParallel) {
      out.push({ seq: s.seq, action: 'p2p' });
      p2p++;
    }
  }
  return out;
}

export interface NeighbourView {
  id: string;
  role: 'viewer' | 'seed';
  /** Transfers in flight from this neighbour to us. */
  inflight: number;
  /** Measured delivery rate (bytes/ms), or null before the first transfer. */
  bytesPerMs: number | null;
  successes: number;
  failures: number;
  /** Refused us recently (busy / over its cap) until this time. */
  backoffUntil: number;
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

/** The neighbour to ask for a segment among those that hold it, or null. */
export function chooseNeighbour(
  now: number,
  holders: readonly NeighbourView[],
  maxInflightPerPeer: number,
): NeighbourView | null {
  let best: NeighbourView | null = null;
  let bestScore = -1;
  for (const n of holders) {
    if (n.backoffUntil > now || n.inflight >= maxInflightPerPeer) continue;
    const s = neighbourScore(n);
    if (s > bestScore || (s === bestScore && best && n.id < best.id)) {
      best = n;
      bestScore = s;
    }
  }
  return best;
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
