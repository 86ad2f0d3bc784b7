/**
 * Sub-room placement inside one process (no Redis): the rooms this COM has seen, counted from
 * the in-process tracker's live membership plus the viewers it sent there recently that the
 * tracker does not count yet. The policy itself is the pure assignSubRoom (sub-rooms.ts).
 */
import type { SubRoomHints } from '../../common/com';
import type { SubRoomOccupancy } from '../tracker/tracker';
import { assignSubRoom, EMPTY_ROOM, type RoomState, type SubRoomPolicy } from './sub-rooms';

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
}

export interface LocalPlacementOptions {
  splitThreshold: number;
  /** Live sub-room membership (the in-process tracker); without it only recent assignments count. */
  occupancy?: (channel: string) => ReadonlyMap<string, SubRoomOccupancy>;
  /** An assigned viewer counts towards its sub-room this long before it shows up at the tracker. */
  pendingMs: number;
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
      book = { state: EMPTY_ROOM, pending: [], lastLive: new Map() };
      this.rooms.set(channel, book);
    }
    const now = this.opts.now();
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
    const subRooms = book.state.subRooms.map((s) => {
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
    const policy: SubRoomPolicy = { splitThreshold: this.opts.splitThreshold, trackerUrls };
    const result = assignSubRoom({ subRooms, nextTracker: book.state.nextTracker }, hints, policy, prefer);
    book.state = result.state;
    book.pending.push({ subRoom: result.subRoom, at: now, isp: hints.isp, region: hints.region });
    const viewers = result.state.subRooms.find((s) => s.id === result.subRoom)?.viewers ?? 1;
    return { ...result, viewers };
  }
}
