/**
 * A tracker shard as a library (`swarmcast tracker`, tests, the tracker benchmark): the tracker
 * on its own HTTP port (WebSocket upgrades on /tracker, GET /healthz, GET /metrics), checking the COM's join
 * tickets with the server's public key, registered in Redis with its load (shard-agent.ts) so
 * that COMs place sub-rooms on it.
 */
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { DEFAULT_DRAIN_MS, drainHttp, listen, sendHealth, urlHost } from '../http-lifecycle';
import type { Logger } from '../log';
import { createRegistry, handleMetrics, registerTrackerMetrics } from '../metrics';
import { connectRedis, type RedisSettings, redactedUrl } from '../shards/redis-client';
import { SHARD_ID_PATTERN } from '../shards/redis-keys';
import { ShardAgent } from '../shards/shard-agent';
import { TRACKER_PATH, Tracker } from './tracker';

export const DEFAULT_SHARD_CAPACITY = 20_000;

export interface ShardOptions {
  host?: string;
  /** Default 8081; 0 = any free port. */
  port?: number;
  /** Public base URL (http[s]://host[:port][/prefix]) viewers reach this shard at; its tracker is below it. */
  publicUrl?: string;
  redis: RedisSettings;
  /** The server's key (join tickets are signed with it). */
  ticketKey: KeyObject;
  /** Registry id (default HOSTNAME-PORT). */
  id?: string;
  capacity?: number;
  heartbeatMs?: number;
  /** Registry timing: refresh period and time to live (default 1 s, 3 s). */
  registryPeriodMs?: number;
  registryTtlMs?: number;
  drainMs?: number;
  /** Prometheus GET /metrics (default on); with a token, only for `Authorization: Bearer <token>`. */
  metrics?: boolean;
  metricsToken?: string;
  log: Logger;
}

export interface RunningShard {
  id: string;
  tracker: Tracker;
  agent: ShardAgent;
  port: number;
  /** The tracker URL registered for viewers. */
  url: string;
  close(): Promise<void>;
}

function defaultId(port: number): string {
  const id = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${port}`.replace(/^[^A-Za-z0-9]+/, '');
  return SHARD_ID_PATTERN.test(id) ? id : `shard-${port}`;
}

export async function startShard(opts: ShardOptions): Promise<RunningShard> {
  const log = opts.log;
  const host = opts.host ?? '0.0.0.0';
  let agent: ShardAgent | null = null;
  const tracker = new Tracker({
    log: log.child({ part: 'tracker' }),
    heartbeatMs: opts.heartbeatMs,
    ticketKey: opts.ticketKey,
    joined: (m) => agent?.joined(m),
  });
  let draining = false;
  const registry = createRegistry();
  registerTrackerMetrics(registry, tracker);
  const http = createServer((req, res) => {
    if (opts.metrics !== false && handleMetrics(req, res, registry, log, opts.metricsToken)) return;
    if (req.url === '/healthz') {
      const parts = { tracker: true, registry: agent !== null };
      const info = { members: tracker.memberCount, connections: tracker.connectionCount };
      return sendHealth(res, { parts, draining, info }, req.method === 'HEAD');
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });
  tracker.attach(http);
  const port = await listen(http, opts.port ?? 8081, host);
  const local = urlHost(host);
  const url = opts.publicUrl
    ? `${opts.publicUrl.replace(/\/+$/, '').replace(/^http/, 'ws')}${TRACKER_PATH}`
    : `ws://${local}:${port}${TRACKER_PATH}`;
  if (!opts.publicUrl && local === '127.0.0.1' && host !== '127.0.0.1') {
    log.warn({ url }, 'no --public-url: the registered tracker URL only works on this machine');
  }
  const id = opts.id ?? defaultId(port);
  let redis: Redis;
  try {
    redis = await connectRedis(opts.redis, log.child({ part: 'redis' }), `swarmcast-shard-${id}`);
    agent = new ShardAgent({
      redis,
      tracker,
      id,
      url,
      capacity: opts.capacity ?? DEFAULT_SHARD_CAPACITY,
      periodMs: opts.registryPeriodMs,
      ttlMs: opts.registryTtlMs,
      log: log.child({ part: 'registry' }),
    });
    await agent.start();
  } catch (err) {
    await tracker.close();
    http.closeAllConnections();
    http.close();
    throw err;
  }
  const running = agent;
  log.info({ id, url, port, redis: redactedUrl(opts.redis.url) }, 'tracker shard ready');
  return {
    id,
    tracker,
    agent: running,
    port,
    url,
    /** Leaves the registry first (COMs move its sub-rooms), then closes members and the port. */
    async close() {
      if (draining) return;
      draining = true;
      await running.stop();
      const drained = drainHttp(http, opts.drainMs ?? DEFAULT_DRAIN_MS);
      await tracker.close();
      await drained;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
