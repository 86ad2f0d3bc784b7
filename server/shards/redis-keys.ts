/**
 * The shared state of tracker shards and COM processes in Redis: every key, and the shapes
 * of what is stored in them (zod-checked whenever read back). A single Redis (not a cluster):
 * the placement scripts touch keys of one room and of the shards together.
 *
 * swarmcast:shards                 set    ids of shards that have registered
 * swarmcast:shard:<id>             string ShardRecord (JSON), expires unless refreshed (PX)
 * swarmcast:shard-subs             hash   shard id → sub-rooms placed on it
 * swarmcast:shard-rooms:<id>       set    "<channel> <sub-room>" placed on the shard
 * swarmcast:rooms                  set    channels that have sub-rooms
 * swarmcast:room:<ch>:subs         hash   sub-room → shard id
 * swarmcast:room:<ch>:born         hash   sub-room → creation time (ms)
 * swarmcast:room:<ch>:seq          string counter for new sub-room ids
 * swarmcast:room:<ch>:occ          hash   sub-room → Occupancy (JSON), written by its shard
 * swarmcast:room:<ch>:pend:<sub>   zset   peer ids sent there by a COM, not yet joined (score: expiry)
 * swarmcast:room:<ch>:merged       hash   merged sub-room → the one it was merged into (one entry
 *                                         per merge: bounded by the sub-rooms the room ever had)
 */
import * as z from 'zod';
import { wsUrlSchema } from '../../common/com';
import { hintSchema, peerIdSchema } from '../../common/tracker-protocol';

export const PREFIX = 'swarmcast:';
export const SHARDS_KEY = `${PREFIX}shards`;
export const ROOMS_KEY = `${PREFIX}rooms`;
export const shardKey = (id: string) => `${PREFIX}shard:${id}`;
export const occKey = (channel: string) => `${PREFIX}room:${channel}:occ`;
export const subsKey = (channel: string) => `${PREFIX}room:${channel}:subs`;
export const mergedKey = (channel: string) => `${PREFIX}room:${channel}:merged`;
export const bornKey = (channel: string) => `${PREFIX}room:${channel}:born`;
export const pendKey = (channel: string, subRoom: string) => `${PREFIX}room:${channel}:pend:${subRoom}`;

export const SHARD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const shardIdSchema = z.string().regex(SHARD_ID_PATTERN, 'a-z, A-Z, 0-9, _ . - (up to 64)');

/** A shard's registration: where viewers reach it and how full it is. */
export const shardRecordSchema = z.object({
  id: shardIdSchema,
  url: wsUrlSchema,
  /** Members joined now. */
  load: z.number().int().min(0),
  /** Members it is meant to hold. */
  capacity: z.number().int().min(1),
  /** Wall clock of the registration (ms). */
  at: z.number().int().min(0),
});
export type ShardRecord = z.infer<typeof shardRecordSchema>;

/** What a shard reports per sub-room (`shard` tells a stale report from a moved sub-room's). */
export const occupancySchema = z.object({
  shard: shardIdSchema,
  /** Viewers (seeds not counted). */
  v: z.number().int().min(0),
  /** Seed peer ids. */
  s: z.array(peerIdSchema).max(32),
  /** Viewers per ISP / per region. */
  i: z.record(hintSchema, z.number().int().min(0)),
  g: z.record(hintSchema, z.number().int().min(0)),
});
export type OccupancyRecord = z.infer<typeof occupancySchema>;
