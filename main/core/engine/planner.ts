/**
 * The planner: which segment to fetch from where, as a pure function of a snapshot of the
 * segment table and an injected clock. It returns actions; the engine commits them. Nothing
 * else decides a fetch — deadlines, stalled or slow peer transfers, retries and the
 * small-room first-copy rule are all here, and are tested table-driven with fake sources.
 *
 * Rules, most urgent deadline first:
 *  - a segment whose deadline is near (within `cdnMarginMs`) and not here comes from the CDN;
 *  - a peer transfer that went silent, ran past its time budget, or at its measured rate will
 *    finish too late for a CDN fetch to rescue it is cancelled (counting against that
 *    neighbour) and the segment goes back to the peers or, when urgent, to the CDN;
 *  - a segment a neighbour holds is asked from the peers;
 *  - nobody holds it yet: wait — unless this viewer has the first-copy duty for it in a room
 *    without a seed nearby, in which case it takes it from the CDN early and the others take
 *    it from this viewer; in a small room the next members in the order back it up, one after
 *    another, when still nobody holds it;
 *  - without peers (P2P off, low-latency mode) or as a seed, everything comes from the CDN,
 *    and the segment being cut streams from the live edge; a viewer whose swarm has just
 *    started waits a little for its first neighbour first (waitsForPeers).
 */
import type { SegmentEntry } from '../../../common/manifest';
import type { SegmentStatus, SourceName } from './segment-table';

export interface PlanSegment {
  seq: number;
  /** When the player needs the segment's first byte (ms on the injected clock). */
  deadline: number;
  size: number;
  status: SegmentStatus;
  /** The source fetching it now, if any. */
  source: SourceName | null;
  /** Neighbours that announced it. */
  holders: number;
  /**
   * This viewer's place in the room's first-copy order for this segment (firstCopyRank): 0
   * takes the first copy, 1, 2… back it up; null when the rule is off.
   */
  firstCopyRank: number | null;
  /** When its manifest entry arrived (ms on the injected clock). */
  listedAt: number;
  /** No new attempt before this time. */
  retryAt: number;
  /** A peer transfer in flight. */
  transfer?: { received: number; startedAt: number; lastDataAt: number };
}

export interface PlanLimits {
  /** Go to the CDN when this close to the deadline (ms) without the data. */
  cdnMarginMs: number;
  /**
   * How long a whole-segment CDN fetch takes here (ms, smoothed: engines pass what they
   * measure, smoothCdnFetchMs). A peer transfer is judged on whether its pace brings the segment
   * this long before its deadline: given up, the CDN can still bring it in time — judged against
   * the deadline itself, a transfer that slowed at the end was given up when even the CDN was
   * too late.
   */
  cdnFetchMs: number;
  maxCdnParallel: number;
  maxPeerParallel: number;
  /** A peer transfer with no data for this long is given up (ms). */
  peerSilenceMs: number;
  /** A peer transfer is given up after this long whatever its progress (ms). */
  peerBudgetMs: number;
  /**
   * After this long (ms) a peer transfer whose pace cannot finish by the deadline is given up
   * even while the deadline is far (a neighbour that trickles just enough never to look
   * silent), so another holder gets the segment in time instead of the CDN at the last moment.
   */
  peerJudgeMs: number;
  /** The first-copy holder waits this long after the entry for a seed's copy to show up (ms). */
  firstCopyDelayMs: number;
  /**
   * Rooms larger than this wait three times as long: copies from a seed or another
   * neighbourhood's holder take a few hops to arrive, and an early CDN copy would be wasted.
   */
  smallRoomMembers: number;
  /**
   * In a small room the member of rank k in the first-copy order takes the segment from the CDN
   * itself when nobody holds it k times this long (ms) after the holder's time. Views of the room
   * differ when two members are not linked (a pair of NATs that cannot connect, a link in
   * back-off): a segment whose holder in one view is a member the others do not see would then
   * have no holder at all, and the whole room would take it from the CDN at its deadline: in the
   * simulator one such pair cut bench:swarm's 5-viewer room from 0.78 of bytes from peers to
   * 0.51–0.60 (0.73–0.74 with two backups 500 ms apart), as low as the real room's worst run
   * (0.55). Engines pass firstCopyBackupMsFor(…) of the measured CDN fetch time.
   */
  firstCopyBackupMs: number;
  /** Ranks 1..this back up the holder (small rooms only; in large ones copies take hops). */
  firstCopyBackups: number;
}

export interface PlanInput {
  now: number;
  /** Peers are in use for fetching (normal mode, P2P on, a swarm joined). */
  usePeers: boolean;
  /** Over the download cap: nothing is fetched ahead from peers. */
  overDownloadCap: boolean;
  /** Oldest first. */
  segments: readonly PlanSegment[];
  /** Members of the first-copy room (this viewer and its viewer neighbours; 0 = no rule). */
  firstCopyRoom: number;
  /** The segment after the newest entry, to stream while it is cut (CDN-only and seeds); null = none. */
  liveEdge: number | null;
  limits: PlanLimits;
}

/**
 * Why a segment goes to the CDN: its deadline is near (or a peer transfer failed with it near);
 * peers are not in use (P2P off, low latency, a seed, a viewer alone); this viewer's first-copy
 * duty; or its backup of another member's duty that nobody fulfilled in time.
 */
export type CdnWhy = 'deadline' | 'no-peers' | 'first-copy' | 'backup';

export type PlanAction =
  | { type: 'cdn'; seq: number; why: CdnWhy }
  | { type: 'live-edge'; seq: number }
  | { type: 'peer'; seq: number }
  /** Give up the peer transfer; `next` says where the segment goes next. */
  | { type: 'cancel-peer'; seq: number; next: 'cdn' | 'peer' | 'wait'; why: 'silent' | 'slow' | 'budget' };

export const DEFAULT_LIMITS: PlanLimits = {
  cdnMarginMs: 800,
  cdnFetchMs: 0,
  maxCdnParallel: 4,
  maxPeerParallel: 4,
  peerSilenceMs: 1500,
  peerBudgetMs: 4000,
  peerJudgeMs: 1000,
  firstCopyDelayMs: 400,
  smallRoomMembers: 5,
  firstCopyBackupMs: 500,
  firstCopyBackups: 2,
};

/** The CDN margin grows with slow CDN fetches up to this multiple of the planned one. */
const MAX_CDN_MARGIN_FACTOR = 2;

/**
 * How close to its deadline a segment goes to the CDN: the planned margin, or more when CDN
 * fetches here take long (a slow link, or a CPU so busy that reading the response lags), so
 * that the fallback is taken in time. `cdnFetchMs` is the smoothed time a whole-segment CDN
 * fetch takes (smoothCdnFetchMs).
 */
export function cdnMarginFor(plannedMarginMs: number, cdnFetchMs: number): number {
  const wanted = Math.round(1.5 * cdnFetchMs + 200);
  return Math.min(Math.max(plannedMarginMs, wanted), MAX_CDN_MARGIN_FACTOR * plannedMarginMs);
}

/**
 * How long a first-copy backup waits per rank: the holder's CDN fetch (`cdnFetchMs`, smoothed)
 * plus slack for the holder's pass to come round (engines wake at a duty's due time, nextDueAt)
 * and its announcement's way to the room, at least the planned step — so a backup does not take
 * a second copy while the first is merely on its way.
 */
export function firstCopyBackupMsFor(plannedMs: number, cdnFetchMs: number): number {
  return Math.max(plannedMs, Math.round(cdnFetchMs + 300));
}

/**
 * The limits a pass plans with where a whole-segment CDN fetch takes `cdnFetchMs` (smoothed):
 * the CDN margin (cdnMarginFor) and the first-copy backup step (firstCopyBackupMsFor) grown from
 * the planned ones, and peer transfers judged against it. The engine and the simulator both
 * plan with these.
 */
export function limitsForCdnTime(planned: PlanLimits, cdnFetchMs: number): PlanLimits {
  return {
    ...planned,
    cdnMarginMs: cdnMarginFor(planned.cdnMarginMs, cdnFetchMs),
    cdnFetchMs,
    firstCopyBackupMs: firstCopyBackupMsFor(planned.firstCopyBackupMs, cdnFetchMs),
  };
}

/**
 * The smoothed CDN fetch time after one more whole-segment fetch that took `tookMs`;
 * `previousMs` 0 = none timed yet, and the first fetch is taken as it is (a viewer in a swarm
 * fetches from the CDN about twice a minute: smoothing up from zero would take minutes to see a
 * slow link).
 */
export function smoothCdnFetchMs(previousMs: number, tookMs: number): number {
  return previousMs === 0 ? tookMs : previousMs * 0.8 + tookMs * 0.2;
}

function peerVerdict(
  s: PlanSegment,
  now: number,
  limits: PlanLimits,
  urgent: boolean,
): 'silent' | 'slow' | 'budget' | null {
  const t = s.transfer;
  if (!t) return null;
  if (now - t.lastDataAt > limits.peerSilenceMs) return 'silent';
  if (now - t.startedAt > limits.peerBudgetMs) return 'budget';
  const elapsed = Math.max(1, now - t.startedAt);
  if (!urgent && elapsed < limits.peerJudgeMs) return null;
  const rate = t.received / elapsed;
  const finish = rate > 0 ? now + (s.size - t.received) / rate : Number.POSITIVE_INFINITY;
  return finish > s.deadline - limits.cdnFetchMs ? 'slow' : null;
}

/**
 * When a first-copy duty of rank `rank` (firstCopyRank) for a segment listed at `listedAt` falls
 * due if nobody holds the segment by then, in a first-copy room of `room` members; null when
 * this viewer has none (no rule, or a rank past the backups).
 */
export function firstCopyDueAt(
  rank: number | null,
  listedAt: number,
  room: number,
  limits: PlanLimits,
): number | null {
  if (rank === null) return null;
  const small = room <= limits.smallRoomMembers;
  if (rank > (small ? limits.firstCopyBackups : 0)) return null;
  const delay = small ? limits.firstCopyDelayMs : limits.firstCopyDelayMs * 3;
  return listedAt + delay + rank * limits.firstCopyBackupMs;
}

export function plan(input: PlanInput): PlanAction[] {
  const { now, limits } = input;
  const out: PlanAction[] = [];
  let cdn = 0;
  let peer = 0;
  for (const s of input.segments) {
    if (s.source === 'cdn') cdn++;
    else if (s.source === 'peer') peer++;
  }
  const byDeadline = [...input.segments].sort((a, b) => a.deadline - b.deadline || a.seq - b.seq);
  for (const s of byDeadline) {
    if (s.status !== 'missing' && s.status !== 'fetching') continue;
    if (s.source === 'cdn') continue;
    const urgent = !input.usePeers || now >= s.deadline - limits.cdnMarginMs;
    if (s.source === 'peer') {
      const why = peerVerdict(s, now, limits, urgent);
      if (!why) continue;
      peer--;
      if (urgent && cdn < limits.maxCdnParallel) {
        out.push({ type: 'cancel-peer', seq: s.seq, next: 'cdn', why });
        cdn++;
      } else if (!urgent && s.holders > 1 && peer < limits.maxPeerParallel && !input.overDownloadCap) {
        out.push({ type: 'cancel-peer', seq: s.seq, next: 'peer', why });
        peer++;
      } else {
        out.push({ type: 'cancel-peer', seq: s.seq, next: 'wait', why });
      }
      continue;
    }
    if (now < s.retryAt) continue;
    if (urgent) {
      if (cdn < limits.maxCdnParallel) {
        out.push({ type: 'cdn', seq: s.seq, why: input.usePeers ? 'deadline' : 'no-peers' });
        cdn++;
      }
      continue;
    }
    if (s.holders > 0) {
      if (peer < limits.maxPeerParallel && !input.overDownloadCap) {
        out.push({ type: 'peer', seq: s.seq });
        peer++;
      }
      continue;
    }
    const dueAt = firstCopyDueAt(s.firstCopyRank, s.listedAt, input.firstCopyRoom, limits);
    if (dueAt !== null && now >= dueAt && cdn < limits.maxCdnParallel) {
      out.push({ type: 'cdn', seq: s.seq, why: s.firstCopyRank === 0 ? 'first-copy' : 'backup' });
      cdn++;
    }
  }
  if (input.liveEdge !== null) out.push({ type: 'live-edge', seq: input.liveEdge });
  return out;
}

/**
 * The earliest time (injected clock) at which plan() could decide something new without any
 * event: a deadline coming within the CDN margin, a retry or first-copy wait ending, a peer
 * transfer going silent, over its budget or old enough to be judged. The engine's periodic pass
 * skips the beats before it: between them a pass would change nothing. `input.now` (pass at
 * every beat) while anything moves with time alone: actions just taken, a CDN-only plan, the
 * download cap, a segment waiting for a free slot, a transfer being judged on its pace.
 */
export function nextDueAt(input: PlanInput, actions: readonly PlanAction[]): number {
  const { now, limits } = input;
  if (actions.length > 0 || !input.usePeers || input.overDownloadCap || input.liveEdge !== null) return now;
  let due = Number.POSITIVE_INFINITY;
  for (const s of input.segments) {
    if ((s.status !== 'missing' && s.status !== 'fetching') || s.source === 'cdn') continue;
    const urgentAt = s.deadline - limits.cdnMarginMs;
    if (now >= urgentAt) return now;
    due = Math.min(due, urgentAt);
    const t = s.source === 'peer' ? s.transfer : undefined;
    if (t) {
      const judgeAt = t.startedAt + limits.peerJudgeMs;
      if (now >= judgeAt) return now;
      due = Math.min(due, judgeAt, t.startedAt + limits.peerBudgetMs, t.lastDataAt + limits.peerSilenceMs);
      continue;
    }
    if (s.source === 'peer') continue;
    if (now < s.retryAt) {
      due = Math.min(due, s.retryAt);
      continue;
    }
    if (s.holders > 0) return now; // no free peer slot yet
    const firstCopy = firstCopyDueAt(s.firstCopyRank, s.listedAt, input.firstCopyRoom, limits);
    if (firstCopy !== null) {
      if (now >= firstCopy) return now; // no free CDN slot yet
      due = Math.min(due, firstCopy);
    }
  }
  return due;
}

/**
 * Where a player starts: the newest keyframe that leaves it `behindMs` of media before the live
 * edge (the gateway's first GOP comes from there; a seed passes 0: the live edge). Entries
 * oldest first, at least one.
 */
export function startSeq(entries: readonly SegmentEntry[], behindMs: number): number {
  const last = entries[entries.length - 1]!;
  const edgeTs = last.startTs + last.durationMs;
  const keyed = [...entries].reverse().filter((s) => s.keyframeOffset !== null);
  const start = keyed.find((s) => edgeTs - s.startTs >= behindMs) ?? keyed[keyed.length - 1];
  return start?.seq ?? last.seq;
}

/**
 * A viewer whose swarm has just started has no neighbour yet: for this long it still waits for
 * peers with what is not yet due (only what the player needs within the CDN margin comes from
 * the CDN), instead of taking its whole start-up burst and the live edge from the CDN in the
 * second before its neighbours connect — in a small room that burst was most of what the CDN
 * served. Alone after it, the viewer takes what it needs from the CDN straight away.
 */
export const FIND_NEIGHBOURS_GRACE_MS = 2500;

/** Whether the pass plans with peers (waits for holders) or from the CDN alone. */
export function waitsForPeers(o: {
  seed: boolean;
  p2p: boolean;
  /** The swarm is up (joined the tracker); null before or without it. */
  swarmAgeMs: number | null;
  peerCount: number;
}): boolean {
  if (o.seed || !o.p2p || o.swarmAgeMs === null) return false;
  return o.peerCount > 0 || o.swarmAgeMs < FIND_NEIGHBOURS_GRACE_MS;
}

/**
 * The small-room first-copy rule: among this viewer and its viewer neighbours (ids sorted),
 * the one at position seq mod n takes segment `seq` from the CDN early (rank 0), so each new
 * segment enters the room about once and the rest of the room takes it from peers; the members
 * after it, in order and round, are its backups (rank 1, 2…). Returns `me`'s rank, or null when
 * there is no rule (a room of one, or `me` not among the members). Every member of a fully
 * connected room computes the same order; in a larger, partly connected room each neighbourhood
 * elects its own, and a seed nearby makes the rule moot (its copy shows up first).
 */
export function firstCopyRank(
  seq: number,
  sortedMembers: readonly string[],
  me: string | null,
): number | null {
  const n = sortedMembers.length;
  const at = me === null ? -1 : sortedMembers.indexOf(me);
  if (n < 2 || at < 0) return null;
  return (((at - seq) % n) + n) % n;
}
