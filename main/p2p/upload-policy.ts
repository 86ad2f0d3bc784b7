/**
 * The uploader's decisions as pure functions, shared by the Uploader (main/p2p/uploader.ts)
 * and the swarm simulator (sim/): whether a neighbour's request is taken on, the deadline it
 * is queued with, and which waiting job goes out next.
 */
import type { PeerRole } from '../../common/tracker-protocol';
import { MAX_CHUNK, RejectReason } from './wire';

/**
 * The smallest chunk, and the rate control's unit (LEDBAT's MSS): small chunks keep the queue a
 * chunk adds short (16 KiB is 13 ms at 10 Mbit/s).
 */
export const CHUNK_BYTES = 16 * 1024;

/** A chunk adds at most about this much queue at the rate the rate control allows (ms). */
const CHUNK_QUEUE_MS = 13;

/**
 * How big the next chunk may be: what the rate control's pacing rate sends in CHUNK_QUEUE_MS,
 * from CHUNK_BYTES up to the wire's largest chunk (64 KiB), and no more than a quarter second
 * of the user's upload cap. On a home uplink (10 Mbit/s: 16 KiB is 13 ms) chunks stay 16 KiB,
 * so the queue a chunk adds stays short and TCP beside us keeps its share (bench:tcp-friendly:
 * sizing chunks by a quarter of the window instead took TCP from 91 % to 86 %); where the
 * rate allows far more (a fast link, loopback) fewer, larger messages go out. Each message
 * costs both ends a wake-up, a native call and an acknowledgement: a 140 KB segment was 9 data
 * messages and 9 acks; in bench:swarm, larger chunks cut a viewer's CPU by 4-12 %. Under a low
 * cap a large chunk would leave the receiver without data for seconds (it gives a silent
 * transfer up after 1.5 s). Without rate control (rate null), CHUNK_BYTES.
 */
export function chunkBytes(rateBytesPerMs: number | null, capBytesPerMs: number | null): number {
  if (rateBytesPerMs === null) return CHUNK_BYTES;
  const byCap = capBytesPerMs === null ? MAX_CHUNK : capBytesPerMs * 250;
  const bytes = Math.min(MAX_CHUNK, rateBytesPerMs * CHUNK_QUEUE_MS, byCap);
  return Math.max(CHUNK_BYTES, Math.floor(bytes / 1024) * 1024);
}

/** Requests one link may have queued; more are refused as Busy. */
export const MAX_JOBS_PER_LINK = 16;
/** The earliest deadline a request can claim (ms from its arrival). */
export const MIN_DEADLINE_MS = 500;

export interface AdmissionInput {
  role: PeerRole;
  /** We hold verified bytes of the segment, and the request's offset is inside them. */
  have: boolean;
  /** Jobs already queued on the asking link. */
  jobsOnLink: number;
  /** Copies of this segment a seed has taken on so far. */
  copiesGiven: number;
  copiesPerSegment: number;
}

/**
 * 'accept', or why the request is refused: not held; the link's queue is full; a seed has
 * handed out its copies of this segment (a seed counts only requests it actually takes on).
 */
export function admitRequest(a: AdmissionInput): 'accept' | RejectReason {
  if (!a.have) return RejectReason.NotHave;
  if (a.jobsOnLink >= MAX_JOBS_PER_LINK) return RejectReason.Busy;
  if (a.role === 'seed' && a.copiesGiven >= a.copiesPerSegment) return RejectReason.OverCap;
  return 'accept';
}

/** The deadline a request is queued with: a claim of "right now" buys no more than MIN_DEADLINE_MS. */
export function jobDeadline(now: number, requestedDeadlineMs: number): number {
  return now + Math.max(requestedDeadlineMs, MIN_DEADLINE_MS);
}

/** What the upload order looks at in a candidate: the link's first unsent job. */
export interface UploadCandidate {
  /** The neighbour takes without giving back (served after everyone else). */
  leech: boolean;
  deadline: number;
  /** When the link last had a chunk sent. */
  lastServedAt: number;
}

/** Whether `a` goes out before `b`: non-leeches first, then the earliest deadline, then the least recently served. */
export function uploadsBefore(a: UploadCandidate, b: UploadCandidate): boolean {
  if (a.leech !== b.leech) return !a.leech;
  if (a.deadline !== b.deadline) return a.deadline < b.deadline;
  return a.lastServedAt < b.lastServedAt;
}

export interface InTimeInput {
  now: number;
  /** When the requester needs the segment's first byte (now + the request's deadlineMs). */
  deadline: number;
  /** Bytes this link must send before the request is done: its own and those queued ahead of it. */
  bytesAhead: number;
  /** Links that would share the uplink with this one (itself included). */
  sharingLinks: number;
  /** What the uplink carries (bytes/ms): the rate control's rate, or the cap. */
  rateBytesPerMs: number;
  /** One-way delay to the requester (ms). */
  oneWayMs: number;
}

/**
 * Deadline-aware admission (a proposal the swarm simulator measures; the Uploader does not
 * apply it yet): whether a request can still be finished before the requester's deadline at the
 * share of the uplink it would get. Refusing (Busy) one that cannot lets the requester ask
 * another holder, or the CDN, at once — instead of the planner cancelling the slow transfer
 * near the deadline, after the uplink spent itself on bytes nobody uses.
 */
export function servableInTime(a: InTimeInput): boolean {
  if (!(a.rateBytesPerMs > 0)) return false;
  const share = a.rateBytesPerMs / Math.max(1, a.sharingLinks);
  return a.now + a.bytesAhead / share + a.oneWayMs <= a.deadline;
}
