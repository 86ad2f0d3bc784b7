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
