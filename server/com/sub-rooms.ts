/**
 * Sub-room assignment, as a pure function. A room (channel) is served as sub-rooms, each with
 * its own tracker; a sub-room takes viewers until it holds `splitThreshold` of them, then the
 * next viewer opens a new sub-room on the next tracker in the list (round-robin).
 *
 * Among the sub-rooms that still have space, a viewer goes where most viewers share its ISP,
 * then its region (so that neighbours inside the sub-room can be ISP-local), then to the
 * fullest (so that a shrinking sub-room drains away instead of lingering half-empty), then to
 * the oldest. A rejoining viewer names its old sub-room (`prefer`) and goes back there (it was
 * counted there already; up to twice the threshold). With the default threshold (Infinity) a room is one sub-room.
 *
 * Draining alone leaves a shrinking room spread thin: a sub-room of a handful of viewers has few
 * neighbours to choose from. planMerges folds such a sub-room into another (the caller then
 * records where it went, so that its members' rejoins follow, and lets its tracker send them
 * through the COM); resolveMerged follows those records.
 */
import type { SubRoomHints } from '../../common/com';

export interface SubRoomState {
  id: string;
  /** Index into the policy's tracker list. */
  tracker: number;
  /** Viewers in the sub-room (seeds not counted). */
  viewers: number;
  /** Viewers per ISP / region hint. */
  isps: Readonly<Record<string, number>>;
  regions: Readonly<Record<string, number>>;
  /** When the sub-room was opened (ms); unknown counts as old. */
  born?: number;
}

export interface RoomState {
  /** Oldest first. */
  subRooms: readonly SubRoomState[];
  /** Tracker index for the next new sub-room (round-robin cursor). */
  nextTracker: number;
}

export interface SubRoomPolicy {
  /** Viewers a sub-room takes before another is opened; Infinity = never split. */
  splitThreshold: number;
  /** Base URLs of the trackers sub-rooms are spread over (ws:// or wss://). */
  trackerUrls: readonly string[];
}

export interface SubRoomAssignment {
  subRoom: string;
  trackerUrl: string;
  /** A new sub-room was opened for this viewer. */
  created: boolean;
  /** The room with this viewer counted in. */
  state: RoomState;
}

export const EMPTY_ROOM: RoomState = { subRooms: [], nextTracker: 0 };

function newSubRoomId(room: RoomState): string {
  const taken = new Set(room.subRooms.map((s) => s.id));
  let n = room.subRooms.length;
  while (taken.has(`s${n}`)) n++;
  return `s${n}`;
}

/** Own-property read: hint strings come from viewers and may be "__proto__" or "constructor". */
function countOf(counts: Readonly<Record<string, number>>, key: string | undefined): number {
  return key !== undefined && Object.hasOwn(counts, key) ? counts[key]! : 0;
}

function bump(counts: Readonly<Record<string, number>>, key: string | undefined): Record<string, number> {
  if (key === undefined) return { ...counts };
  return { ...counts, [key]: countOf(counts, key) + 1 };
}

export function assignSubRoom(
  room: RoomState,
  hints: SubRoomHints,
  policy: SubRoomPolicy,
  prefer?: string,
): SubRoomAssignment {
  const trackers = policy.trackerUrls.length;
  if (trackers === 0) throw new Error('sub-room policy has no tracker');
  if (!(policy.splitThreshold >= 1)) throw new Error('sub-room split threshold must be at least 1');

  // A rejoining member counted there already: up to twice the threshold it goes back.
  let best = room.subRooms.findIndex((s) => s.id === prefer && s.viewers < 2 * policy.splitThreshold);
  if (best < 0) {
    let bestIsp = -1;
    let bestRegion = -1;
    let bestViewers = -1;
    room.subRooms.forEach((s, i) => {
      if (s.viewers >= policy.splitThreshold) return;
      const isp = countOf(s.isps, hints.isp);
      const region = countOf(s.regions, hints.region);
      const better =
        isp > bestIsp ||
        (isp === bestIsp && (region > bestRegion || (region === bestRegion && s.viewers > bestViewers)));
      if (better) {
        best = i;
        bestIsp = isp;
        bestRegion = region;
        bestViewers = s.viewers;
      }
    });
  }

  const subRooms = [...room.subRooms];
  let nextTracker = room.nextTracker;
  let created = false;
  if (best < 0) {
    created = true;
    best = subRooms.length;
    subRooms.push({
      id: newSubRoomId(room),
      tracker: nextTracker % trackers,
      viewers: 0,
      isps: {},
      regions: {},
    });
    nextTracker = (nextTracker + 1) % trackers;
  }
  const chosen = subRooms[best]!;
  subRooms[best] = {
    ...chosen,
    viewers: chosen.viewers + 1,
    isps: bump(chosen.isps, hints.isp),
    regions: bump(chosen.regions, hints.region),
  };
  return {
    subRoom: chosen.id,
    trackerUrl: policy.trackerUrls[chosen.tracker % trackers]!,
    created,
    state: { subRooms, nextTracker },
  };
}

/** A sub-room under this share of the split threshold is merged into another… */
export const MERGE_BELOW = 0.25;
/** …that holds both under this share, leaving room to grow before it splits again. */
export const MERGE_FILL_MAX = 0.75;

export interface SubRoomMerge {
  from: string;
  into: string;
  /** Viewers that move (the source's count when planned). */
  viewers: number;
}

export interface MergePolicy {
  splitThreshold: number;
  now: number;
  /** A sub-room younger than this is left alone (a new one is small because it is new). */
  graceMs: number;
}

function overlap(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const k of Object.keys(a)) n += Math.min(a[k]!, countOf(b, k));
  return n;
}

/**
 * Which sub-rooms to fold into which, smallest first. The target is the one sharing most viewers'
 * ISPs, then regions, with the source (ISP-local neighbours stay possible), then the fullest that
 * still holds both under MERGE_FILL_MAX × K, then the oldest. A sub-room that receives is not
 * also moved away in the same plan, nor one that moves away chosen as a target. Empty sub-rooms
 * are not merged (they are dropped once past the grace period).
 */
export function planMerges(room: RoomState, policy: MergePolicy): SubRoomMerge[] {
  const K = policy.splitThreshold;
  if (!Number.isFinite(K) || room.subRooms.length < 2) return [];
  const old = (s: SubRoomState) => s.born === undefined || policy.now - s.born >= policy.graceMs;
  const small = room.subRooms
    .filter((s) => s.viewers > 0 && s.viewers < K * MERGE_BELOW && old(s))
    .sort((a, b) => a.viewers - b.viewers || (a.id < b.id ? -1 : 1));
  const load = new Map(room.subRooms.map((s) => [s.id, s.viewers]));
  const sources = new Set<string>();
  const targets = new Set<string>();
  const out: SubRoomMerge[] = [];
  for (const s of small) {
    if (targets.has(s.id)) continue;
    let best: SubRoomState | null = null;
    let bestKey: [number, number, number] = [-1, -1, -1];
    for (const t of room.subRooms) {
      if (t.id === s.id || sources.has(t.id)) continue;
      const total = load.get(t.id)! + s.viewers;
      if (total > K * MERGE_FILL_MAX) continue;
      const key: [number, number, number] = [overlap(s.isps, t.isps), overlap(s.regions, t.regions), total];
      const better =
        key[0] > bestKey[0] ||
        (key[0] === bestKey[0] && (key[1] > bestKey[1] || (key[1] === bestKey[1] && key[2] > bestKey[2])));
      if (better) {
        best = t;
        bestKey = key;
      }
    }
    if (!best) continue;
    out.push({ from: s.id, into: best.id, viewers: s.viewers });
    sources.add(s.id);
    targets.add(best.id);
    load.set(best.id, load.get(best.id)! + s.viewers);
  }
  return out;
}

/** Longest chain of merges followed (a cycle cannot form, but records come from outside). */
const MAX_MERGE_HOPS = 16;

/** Where a sub-room's members go now: itself, or where it was merged (following later merges). */
export function resolveMerged(merged: ReadonlyMap<string, string>, id: string): string {
  let at = id;
  for (let i = 0; i < MAX_MERGE_HOPS; i++) {
    const next = merged.get(at);
    if (next === undefined || next === at) return at;
    at = next;
  }
  return at;
}
