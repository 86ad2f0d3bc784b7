/**
 * A tracker shard's side of the registry: every period (default 1 s) one MULTI carries its
 * registration (id, URL, members, capacity; the key expires after `ttlMs`, 3 s by default, so a
 * dead shard is gone from the registry within 3 s), the occupancy of each of its sub-rooms that
 * changed, and the removal of viewers that joined from the COMs' pending lists.
 *
 * The same MULTI reads where each sub-room it holds is placed now. When its key had expired (Redis
 * was away, or this process stalled past the TTL) the COMs may have moved its sub-rooms
 * elsewhere; a COM may also have merged a shrunken sub-room into another. Either way the shard
 * disconnects that sub-room's members (they rejoin through the COM, which sends them where it is
 * now) rather than keep a second copy alive; sub-rooms still placed here keep their members.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { SubRoomOccupancy, Tracker } from '../tracker/tracker';
import {
  mergedKey,
  type OccupancyRecord,
  occKey,
  pendKey,
  SHARDS_KEY,
  shardKey,
  subsKey,
} from './redis-keys';

export interface ShardAgentOptions {
  redis: Redis;
  tracker: Tracker;
  id: string;
  /** ws(s):// URL viewers reach this shard's tracker at. */
  url: string;
  capacity: number;
  log: Logger;
  periodMs?: number;
  ttlMs?: number;
}

const MAX_SEEDS_REPORTED = 32;
const FULL_REWRITE_EVERY = 5;

function occupancyRecord(shard: string, occ: SubRoomOccupancy): OccupancyRecord {
  return {
    shard,
    v: occ.viewers,
    s: occ.seeds.slice(0, MAX_SEEDS_REPORTED),
    i: Object.fromEntries(occ.isps),
    g: Object.fromEntries(occ.regions),
  };
}

export class ShardAgent {
  private readonly periodMs: number;
  private readonly ttlMs: number;
  private timer: NodeJS.Timeout | null = null;
  /** Joins since the last flush: channel → sub-room → peer ids. */
  private joins = new Map<string, Map<string, string[]>>();
  /** What was last written per "channel sub-room". */
  private readonly written = new Map<string, string>();
  private registered = false;
  private flushing = false;
  /** Completed flushes (tests wait on it). */
  flushes = 0;

  constructor(private readonly opts: ShardAgentOptions) {
    this.periodMs = opts.periodMs ?? 1000;
    this.ttlMs = opts.ttlMs ?? 3000;
  }

  /** Feed of the tracker's joins (TrackerOptions.joined). */
  joined(m: { channel: string; subRoom: string; peerId: string }): void {
    let subs = this.joins.get(m.channel);
    if (!subs) {
      subs = new Map();
      this.joins.set(m.channel, subs);
    }
    const list = subs.get(m.subRoom);
    if (list) list.push(m.peerId);
    else subs.set(m.subRoom, [m.peerId]);
  }

  /** Registers at once, then keeps the registration and the occupancy fresh. */
  async start(): Promise<void> {
    await this.flush();
    if (!this.registered) throw new Error('could not register the shard in redis');
    this.opts.log.info({ shard: this.opts.id, url: this.opts.url }, 'shard registered');
    this.timer = setInterval(() => void this.flush(), this.periodMs);
    this.timer.unref();
  }

  /** Leaves the registry (a clean stop: COMs move its sub-rooms at their next refresh). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.opts.redis.multi().del(shardKey(this.opts.id)).exec();
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, 'shard: could not leave the registry');
    }
  }

  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const { redis, tracker, id } = this.opts;
    const joins = this.joins;
    this.joins = new Map();
    // Every few periods everything is written again, whatever the cache says (a report another
    // writer overwrote, or one lost with a failed MULTI, heals itself).
    if (this.flushes % FULL_REWRITE_EVERY === 0)
      for (const key of this.written.keys()) this.written.set(key, '');
    const record = JSON.stringify({
      id,
      url: this.opts.url,
      load: tracker.memberCount,
      capacity: this.opts.capacity,
      at: Date.now(),
    });
    const tx = redis.multi();
    tx.set(shardKey(id), record, 'PX', this.ttlMs, 'XX');
    tx.sadd(SHARDS_KEY, id);
    // Where each held sub-room is placed now, and where it went if merged (replies 2 … 2+2n).
    const held: Array<[string, string[]]> = tracker
      .channelsWithMembers()
      .map((channel) => [channel, [...tracker.occupancy(channel).keys()]]);
    for (const [channel, subRooms] of held) {
      tx.hmget(subsKey(channel), ...subRooms);
      tx.hmget(mergedKey(channel), ...subRooms);
    }
    // Sub-rooms that changed, and those that emptied since the last flush (written as 0 viewers).
    const now = new Map<string, string>();
    const emptied = new Set<string>();
    for (const channel of tracker.channelsWithMembers()) {
      for (const [subRoom, occ] of tracker.occupancy(channel)) {
        now.set(`${channel} ${subRoom}`, JSON.stringify(occupancyRecord(id, occ)));
      }
    }
    for (const key of this.written.keys()) {
      if (now.has(key)) continue;
      now.set(key, JSON.stringify({ shard: id, v: 0, s: [], i: {}, g: {} }));
      emptied.add(key);
    }
    for (const [key, json] of now) {
      if (this.written.get(key) === json) continue;
      const [channel, subRoom] = key.split(' ') as [string, string];
      tx.hset(occKey(channel), subRoom, json);
    }
    for (const [channel, subs] of joins) {
      for (const [subRoom, peers] of subs) tx.zrem(pendKey(channel, subRoom), ...peers);
    }
    try {
      const results = (await tx.exec()) ?? [];
      const refreshed = results[0]?.[1] === 'OK';
      if (!refreshed) await this.register(record);
      this.letGo(
        held,
        results.slice(2, 2 + 2 * held.length).map(([, r]) => r),
      );
      for (const [key, json] of now) {
        if (emptied.has(key)) this.written.delete(key);
        else this.written.set(key, json);
      }
      this.flushes++;
    } catch (err) {
      // Put the joins back: their pending entries are removed next time (or expire).
      for (const [channel, subs] of joins) {
        for (const [subRoom, peers] of subs)
          for (const p of peers) this.joined({ channel, subRoom, peerId: p });
      }
      this.opts.log.warn({ err: String(err) }, 'shard: registry update failed');
    } finally {
      this.flushing = false;
    }
  }

  /** First registration, or a new one after the key expired (moved sub-rooms are let go by flush). */
  private async register(record: string): Promise<void> {
    const { redis, id, tracker } = this.opts;
    await redis.set(shardKey(id), record, 'PX', this.ttlMs);
    if (this.registered) {
      this.opts.log.warn(
        { shard: id, members: tracker.memberCount },
        'shard registration had expired (stalled or cut off from redis): members of moved sub-rooms rejoin through the COM',
      );
      for (const key of this.written.keys()) this.written.set(key, '');
    }
    this.registered = true;
  }

  /** Disconnects the members of held sub-rooms now placed on another shard or merged away. */
  private letGo(held: ReadonlyArray<[string, string[]]>, replies: unknown[]): void {
    const { tracker, id } = this.opts;
    held.forEach(([channel, subRooms], c) => {
      const placed = replies[2 * c];
      const merged = replies[2 * c + 1];
      subRooms.forEach((subRoom, i) => {
        const on = Array.isArray(placed) ? placed[i] : null;
        const into = Array.isArray(merged) ? merged[i] : null;
        let reason: string | null = null;
        if (typeof on === 'string' && on !== id) reason = 'sub-room moved to another shard';
        else if (on == null && typeof into === 'string') reason = `sub-room merged into ${into.slice(0, 64)}`;
        if (reason === null) return;
        const n = tracker.disconnectSubRoom(channel, subRoom, reason);
        this.opts.log.info({ shard: id, channel, subRoom, members: n, reason }, 'sub-room let go');
      });
    });
  }
}
