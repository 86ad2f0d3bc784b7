/**
 * Sub-room placement inside one process (no Redis): the rooms this COM has seen, counted from
 * the in-process tracker's live membership plus the viewers it sent there recently that the
 * tracker does not count yet. The policies themselves are the pure assignSubRoom and planMerges
 * (sub-rooms.ts); merges are acted on only when the trackers are in this process (`disconnect`).
 */
import type { SubRoomHints } from '../../common/com';
import type { SubRoomOccupancy } from '../tracker/tracker';
import {
  assignSubRoom,
  EMPTY_ROOM,
  planMerges,
  type RoomState,
  resolveMerged,
  type SubRoomMerge,
  type SubRoomPolicy,
  type SubRoomState,
} from './sub-rooms';

interface Pending {
  subRoom: string;
  at: number;
  isp?: string;
  region?: string;
}

interface RoomBook {
  /** Sub-room ids and trackers; the counts are refreshed before each assignment. */
  state: RoomState;
  /** Viewers sent to a sub-room that the tracker may not count yet. */
  pending: Pending[];
  /** Viewer count per sub-room at the last refresh: growth there retires pending entries. */
  lastLive: Map<string, number>;
  /** Merged sub-rooms: where their members rejoin. */
  merged: Map<string, string>;
}

export interface LocalPlacementOptions {
  splitThreshold: number;
  /** Live sub-room membership (the in-process tracker); without it only recent assignments count. */
  occupancy?: (channel: string) => ReadonlyMap<string, SubRoomOccupancy>;
  /** An assigned viewer counts towards its sub-room this long before it shows up at the tracker. */
  pendingMs: number;
  /**
   * Sends a sub-room's members away from its tracker (they rejoin through the COM). Without it
   * sub-rooms are never merged: the trackers are elsewhere.
   */
  disconnect?: (channel: string, subRoom: string, reason: string) => number;
  /** A sub-room younger than this is not merged (default 30 s). */
  mergeGraceMs?: number;
  now: () => number;
}

function addCounts(into: Record<string, number>, from: ReadonlyMap<string, number> | undefined): void {
  for (const [k, n] of from ?? []) into[k] = (Object.hasOwn(into, k) ? into[k]! : 0) + n;
}

export class LocalPlacement {
  private readonly rooms = new Map<string, RoomBook>();

  constructor(private readonly opts: LocalPlacementOptions) {}

  assign(
    channel: string,
    hints: SubRoomHints,
    trackerUrls: readonly string[],
    prefer?: string,
  ): { subRoom: string; trackerUrl: string; created: boolean; viewers: number } {
    let book = this.rooms.get(channel);
    if (!book) {
      book = { state: EMPTY_ROOM, pending: [], lastLive: new Map(), merged: new Map() };
      this.rooms.set(channel, book);
    }
    const now = this.opts.now();
    const subRooms = this.counted(channel, book, now);
    const policy: SubRoomPolicy = { splitThreshold: this.opts.splitThreshold, trackerUrls };
    const goTo = prefer === undefined ? undefined : resolveMerged(book.merged, prefer);
    const result = assignSubRoom({ subRooms, nextTracker: book.state.nextTracker }, hints, policy, goTo);
    book.state = result.state;
    if (result.created) {
      const born = (s: SubRoomState) => (s.id === result.subRoom ? { ...s, born: now } : s);
      book.state = { ...result.state, subRooms: result.state.subRooms.map(born) };
      // A new sub-room may reuse a merged one's id: late rejoins of that one now land here.
      book.merged.delete(result.subRoom);
    }
    book.pending.push({ subRoom: result.subRoom, at: now, isp: hints.isp, region: hints.region });
    const viewers = result.state.subRooms.find((s) => s.id === result.subRoom)?.viewers ?? 1;
    return { ...result, viewers };
  }

  /**
   * Folds shrunken sub-rooms into others (planMerges) and sends their members to rejoin through
   * the COM, which now answers with the merged-into sub-room. Returns the merges made.
   */
  mergeTick(): Array<SubRoomMerge & { channel: string }> {
    const disconnect = this.opts.disconnect;
    if (!disconnect || !Number.isFinite(this.opts.splitThreshold)) return [];
    const now = this.opts.now();
    const done: Array<SubRoomMerge & { channel: string }> = [];
    for (const [channel, book] of this.rooms) {
      if (book.state.subRooms.length < 2) continue;
      const subRooms = this.counted(channel, book, now);
      const plan = planMerges(
        { subRooms, nextTracker: book.state.nextTracker },
        { splitThreshold: this.opts.splitThreshold, now, graceMs: this.opts.mergeGraceMs ?? 30_000 },
      );
      if (plan.length === 0) continue;
      const gone = new Set(plan.map((m) => m.from));
      book.state = { ...book.state, subRooms: book.state.subRooms.filter((s) => !gone.has(s.id)) };
      for (const m of plan) {
        book.merged.set(m.from, m.into);
        book.lastLive.delete(m.from);
        disconnect(channel, m.from, `sub-room merged into ${m.into}`);
        done.push({ channel, ...m });
      }
      book.pending = book.pending.filter((p) => !gone.has(p.subRoom));
    }
    return done;
  }

  /** The room's sub-rooms with live counts plus pending assignments (retiring those now counted). */
  private counted(channel: string, book: RoomBook, now: number): RoomState['subRooms'] {
    const live = this.opts.occupancy?.(channel);
    // Viewers that joined since the last refresh are counted by the tracker now: retire as many
    // pending entries (oldest first) so nobody is counted twice. Unclaimed entries expire.
    const retire = new Map<string, number>();
    for (const s of book.state.subRooms) {
      const n = live?.get(s.id)?.viewers ?? 0;
      const grew = n - (book.lastLive.get(s.id) ?? 0);
      if (grew > 0) retire.set(s.id, grew);
      book.lastLive.set(s.id, n);
    }
    book.pending = book.pending.filter((p) => {
      const r = retire.get(p.subRoom) ?? 0;
      if (r > 0) {
        retire.set(p.subRoom, r - 1);
        return false;
      }
      return now - p.at < this.opts.pendingMs;
    });
    return book.state.subRooms.map((s) => {
      const isps: Record<string, number> = {};
      const regions: Record<string, number> = {};
      const occ = live?.get(s.id);
      addCounts(isps, occ?.isps);
      addCounts(regions, occ?.regions);
      let viewers = occ?.viewers ?? 0;
      for (const p of book.pending) {
        if (p.subRoom !== s.id) continue;
        viewers++;
        if (p.isp !== undefined) addCounts(isps, new Map([[p.isp, 1]]));
        if (p.region !== undefined) addCounts(regions, new Map([[p.region, 1]]));
      }
      return { ...s, viewers, isps, regions };
    });
  }
}
