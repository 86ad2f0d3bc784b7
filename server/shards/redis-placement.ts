/**
 * The COM's side of the shard registry: which tracker shards are alive (their registration keys
 * in Redis), and where a viewer goes (placement-scripts.ts, run inside Redis so that every COM
 * process agrees). A shard whose key expired is noticed within one refresh period and its
 * sub-rooms are moved to live shards at once; viewers that lost it re-ask the COM (rejoin) and
 * are sent to the new one.
 */
import type { Redis } from 'ioredis';
import { planMerges, type SubRoomMerge, type SubRoomState } from '../com/sub-rooms';
import type { Logger } from '../log';
import { ASSIGN_SCRIPT, MERGE_SCRIPT, RETIRE_SCRIPT } from './placement-scripts';
import {
  bornKey,
  type OccupancyRecord,
  occKey,
  occupancySchema,
  pendKey,
  ROOMS_KEY,
  SHARDS_KEY,
  type ShardRecord,
  shardKey,
  shardRecordSchema,
  subsKey,
} from './redis-keys';

export interface PlacementRequest {
  channel: string;
  peerId: string;
  isp?: string;
  region?: string;
  /** A rejoining viewer's sub-room: kept (or re-opened) when it has space. */
  prefer?: string;
}

export interface Placement {
  subRoom: string;
  trackerUrl: string;
  created: boolean;
  /** What the sub-room's shard last reported (null: nothing yet). */
  occupancy: OccupancyRecord | null;
}

export interface RedisPlacementOptions {
  redis: Redis;
  log: Logger;
  /** Viewers per sub-room (Infinity: one sub-room per room). */
  splitThreshold: number;
  /** A viewer sent to a sub-room counts there this long before its shard reports it (default 15 s). */
  pendingMs?: number;
  /** An empty sub-room younger than this is kept (default 30 s). */
  graceMs?: number;
  /** How often the live-shard list is re-read (default 500 ms). */
  refreshMs?: number;
  now?: () => number;
}

type AssignReply = [string, string, number, number, string] | null;

interface PlacementCommands {
  swarmcastAssign(...args: string[]): Promise<AssignReply>;
  swarmcastRetire(...args: string[]): Promise<number>;
  swarmcastMerge(...args: string[]): Promise<number>;
}

export class RedisPlacement {
  private readonly redis: Redis & PlacementCommands;
  private readonly log: Logger;
  private readonly now: () => number;
  private live: ShardRecord[] = [];
  private viewerCounts = new Map<string, number>();
  private refreshing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Sub-rooms moved off dead shards by this process (metrics, tests). */
  moved = 0;

  constructor(private readonly opts: RedisPlacementOptions) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    const redis = opts.redis as Redis & Partial<PlacementCommands>;
    if (!redis.swarmcastAssign)
      redis.defineCommand('swarmcastAssign', { numberOfKeys: 0, lua: ASSIGN_SCRIPT });
    if (!redis.swarmcastRetire)
      redis.defineCommand('swarmcastRetire', { numberOfKeys: 0, lua: RETIRE_SCRIPT });
    if (!redis.swarmcastMerge) redis.defineCommand('swarmcastMerge', { numberOfKeys: 0, lua: MERGE_SCRIPT });
    this.redis = redis as Redis & PlacementCommands;
    this.timer = setInterval(() => void this.refresh(), opts.refreshMs ?? 500);
    this.timer.unref();
  }

  /** Live shards as of the last refresh. */
  get shards(): readonly ShardRecord[] {
    return this.live;
  }

  /** Re-reads the registry; retires shards whose key expired. Never throws. */
  refresh(): Promise<void> {
    this.refreshing ??= this.readRegistry().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Viewers of a channel on all live shards, as of the last refresh (the channel list shows it). */
  viewers(channel: string): number {
    return this.viewerCounts.get(channel) ?? 0;
  }

  /** Where the viewer goes; null when no shard is alive or Redis does not answer (the caller falls back). */
  async assign(req: PlacementRequest): Promise<Placement | null> {
    if (this.live.length === 0) await this.refresh();
    if (this.live.length === 0) return null;
    const threshold = Number.isFinite(this.opts.splitThreshold) ? this.opts.splitThreshold : 1e15;
    let reply: AssignReply;
    try {
      reply = await this.redis.swarmcastAssign(
        JSON.stringify(this.live.map(({ id, url, load, capacity }) => ({ id, url, load, capacity }))),
        req.channel,
        String(this.now()),
        String(this.opts.pendingMs ?? 15_000),
        String(threshold),
        req.peerId,
        req.isp ?? '',
        req.region ?? '',
        String(this.opts.graceMs ?? 30_000),
        req.prefer ?? '',
      );
    } catch (err) {
      this.log.warn({ err: String(err), channel: req.channel }, 'redis placement failed');
      return null;
    }
    if (!reply) return null;
    const [subRoom, trackerUrl, created, moved, occRaw] = reply;
    if (moved > 0) {
      this.moved += moved;
      this.log.warn({ channel: req.channel, moved }, 'sub-rooms moved off a dead tracker shard');
    }
    let occupancy: OccupancyRecord | null = null;
    if (occRaw) {
      const parsed = occupancySchema.safeParse(safeJson(occRaw));
      if (parsed.success) occupancy = parsed.data;
    }
    return { subRoom, trackerUrl, created: created === 1, occupancy };
  }

  /**
   * Reads every room's sub-rooms (counts as their live shards report them, plus pending viewers),
   * plans merges with the pure planMerges and applies each atomically (MERGE_SCRIPT skips one that
   * another COM's merge made moot). Several COMs may run this at once: a sub-room merged twice
   * over resolves through the chain of records. Throws when Redis fails (the caller logs it).
   */
  async mergeTick(): Promise<Array<SubRoomMerge & { channel: string }>> {
    const K = this.opts.splitThreshold;
    if (this.closed || !Number.isFinite(K) || this.live.length === 0) return [];
    const liveIds = new Set(this.live.map((s) => s.id));
    const rooms = (await this.redis.smembers(ROOMS_KEY)).slice(0, MAX_COUNTED_ROOMS);
    const read = this.redis.pipeline();
    for (const channel of rooms)
      read.hgetall(subsKey(channel)).hgetall(occKey(channel)).hgetall(bornKey(channel));
    const got = (await read.exec()) ?? [];
    const now = this.now();
    const candidates: Array<{
      channel: string;
      subs: Array<[string, string]>;
      occ: Record<string, string>;
      born: Record<string, string>;
    }> = [];
    rooms.forEach((channel, r) => {
      const hash = (i: number) => (got[3 * r + i]?.[1] ?? {}) as Record<string, string>;
      // Sub-rooms on shards thought dead are about to move: they neither merge nor receive.
      const subs = Object.entries(hash(0)).filter(([, shard]) => liveIds.has(shard));
      const born = hash(2);
      const age = (id: string) => Number(born[id] ?? 0) || 0;
      subs.sort(([a], [b]) => age(a) - age(b) || (a < b ? -1 : 1)); // oldest first, as planMerges wants
      if (subs.length >= 2) candidates.push({ channel, subs, occ: hash(1), born });
    });
    if (candidates.length === 0) return [];
    const counts = this.redis.pipeline();
    for (const c of candidates)
      for (const [sub] of c.subs) counts.zcount(pendKey(c.channel, sub), `(${now}`, '+inf');
    const pending = ((await counts.exec()) ?? []).map(([, n]) => Number(n) || 0);
    const done: Array<SubRoomMerge & { channel: string }> = [];
    let at = 0;
    for (const c of candidates) {
      const subRooms: SubRoomState[] = c.subs.map(([id, shard]) => {
        const parsed = occupancySchema.safeParse(safeJson(c.occ[id] ?? 'null'));
        const occ = parsed.success && parsed.data.shard === shard ? parsed.data : null;
        const born = Number(c.born[id]);
        return {
          id,
          tracker: 0,
          viewers: pending[at++]! + (occ?.v ?? 0),
          isps: occ?.i ?? {},
          regions: occ?.g ?? {},
          ...(Number.isFinite(born) ? { born } : {}),
        };
      });
      const plan = planMerges(
        { subRooms, nextTracker: 0 },
        { splitThreshold: K, now, graceMs: this.opts.graceMs ?? 30_000 },
      );
      const shards = JSON.stringify(
        this.live.map(({ id, url, load, capacity }) => ({ id, url, load, capacity })),
      );
      for (const m of plan) {
        if ((await this.redis.swarmcastMerge(shards, c.channel, m.from, m.into)) === 1)
          done.push({ channel: c.channel, ...m });
      }
    }
    return done;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  /** Sums what live shards report per channel (one pipelined HVALS per room). */
  private async countViewers(liveIds: ReadonlySet<string>): Promise<void> {
    const rooms = (await this.redis.smembers(ROOMS_KEY)).slice(0, MAX_COUNTED_ROOMS);
    const counts = new Map<string, number>();
    if (rooms.length > 0) {
      const pipe = this.redis.pipeline();
      for (const channel of rooms) pipe.hvals(occKey(channel));
      const results = (await pipe.exec()) ?? [];
      rooms.forEach((channel, i) => {
        let n = 0;
        const values = results[i]?.[1];
        for (const raw of Array.isArray(values) ? values : []) {
          const parsed = occupancySchema.safeParse(safeJson(String(raw)));
          if (parsed.success && liveIds.has(parsed.data.shard)) n += parsed.data.v;
        }
        counts.set(channel, n);
      });
    }
    this.viewerCounts = counts;
  }

  private async readRegistry(): Promise<void> {
    if (this.closed) return;
    try {
      const ids = await this.redis.smembers(SHARDS_KEY);
      const values = ids.length > 0 ? await this.redis.mget(ids.map(shardKey)) : [];
      const live: ShardRecord[] = [];
      const dead: string[] = [];
      ids.forEach((id, i) => {
        const raw = values[i];
        if (raw == null) {
          dead.push(id);
          return;
        }
        const parsed = shardRecordSchema.safeParse(safeJson(raw));
        if (parsed.success && parsed.data.id === id) live.push(parsed.data);
        else this.log.warn({ shard: id }, 'unreadable shard registration ignored');
      });
      live.sort((a, b) => (a.id < b.id ? -1 : 1));
      this.live = live;
      await this.countViewers(new Set(live.map((s) => s.id)));
      for (const id of dead) {
        const moved = await this.redis.swarmcastRetire(JSON.stringify(live), id);
        if (moved > 0) this.moved += moved;
        if (live.length > 0) {
          this.log.warn(
            { shard: id, moved, live: live.map((s) => s.id) },
            'tracker shard gone: sub-rooms moved',
          );
        }
      }
    } catch (err) {
      this.log.warn({ err: String(err) }, 'redis: shard registry not readable');
    }
  }
}

const MAX_COUNTED_ROOMS = 1000;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
