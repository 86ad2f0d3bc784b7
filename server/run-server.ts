/**
 * `swarmcast server` as a library: origin (HTTP + RTMP ingest + demo channel), the COM service
 * (GET /api/channels/:id), the tracker (WebSocket upgrade on /tracker of the same HTTP server)
 * and the STUN server (UDP) in one process.
 * Used by the CLI, by tests, and by the desktop app's embedded local origin.
 */

import { createServer } from 'node:http';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { IceServer } from '../common/com';
import { ComService, type TurnOptions } from './com/com-service';
import { ticketKey } from './com/join-ticket';
import { openIspLookup } from './geo/isp-lookup';
import type { PrefixTableConfig } from './geo/prefix-table';
import { DEFAULT_DRAIN_MS, drainHttp, listen, sendHealth, urlHost } from './http-lifecycle';
import type { Logger } from './log';
import { LogServer } from './logs/log-server';
import { createRegistry, handleMetrics, registerServerMetrics } from './metrics';
import { OriginHttpApi, sendError } from './origin/http-api';
import { Origin } from './origin/origin';
import { RtmpIngest } from './origin/rtmp-ingest';
import { loadOrCreateSigner } from './origin/signing-key';
import { packagePath } from './package-path';
import { connectRedis, type RedisSettings, redactedUrl } from './shards/redis-client';
import { RedisPlacement } from './shards/redis-placement';
import { type RunningStun, startStun } from './stun/stun-server';
import { TRACKER_PATH, Tracker } from './tracker/tracker';

/** The demo clip in the package's assets. */
export function defaultDemoClip(): string {
  return packagePath('assets', 'demo.flv');
}

export interface ServerOptions {
  host?: string;
  httpPort?: number;
  /** null disables RTMP ingest. */
  rtmpPort?: number | null;
  dataDir: string;
  demo?: boolean;
  demoClip?: string;
  streamKeys?: ReadonlyMap<string, string>;
  windowSize?: number;
  blockingTimeoutMs?: number;
  /** An HTTP push that sends nothing for this long is ended (ms; default 10 s; RTMP has its own 30 s). */
  ingestIdleMs?: number;
  /**
   * STUN (UDP) port: default 3478 (if it is taken, a free port is used instead, with a warning);
   * 0 = any free port; null = no STUN server.
   */
  stunPort?: number | null;
  /** Public base URL viewers reach this server at; default: derived from each request's Host. */
  publicUrl?: string;
  /** ICE servers handed to viewers; default: this server's STUN. */
  iceServers?: IceServer[];
  turn?: TurnOptions;
  /** Log servers handed to viewers; default: this server's own /api/reports when logService is on. */
  logServers?: string[];
  /** Run the log server (POST /api/reports, per-channel aggregates) in this process (default true). */
  logService?: boolean;
  /** Prometheus metrics on GET /metrics (default true). */
  metrics?: boolean;
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Graceful shutdown: how long close() lets in-flight requests drain before cutting them (default 10 s). */
  drainMs?: number;
  /**
   * What one remote address may hold open: blocking reloads (default 64), HTTP-FLV streams
   * (16), tracker connections (64). Loopback is exempt unless `includeLoopback` (tests).
   */
  addressLimits?: {
    heldReloads?: number;
    flvStreams?: number;
    trackerConnections?: number;
    includeLoopback?: boolean;
  };
  /** Viewers per sub-room before the COM opens another one (default: no split). */
  subRoomSize?: number;
  /** Bearer token seed servers show for seed tickets; default: seeds on this machine only. */
  seedSecret?: string;
  /** Tracker base URLs (ws[s]://) sub-rooms are spread over; default: this server's /tracker. */
  trackerUrls?: string[];
  /** Tracker heartbeat period (default 5000 ms). */
  heartbeatMs?: number;
  /**
   * Sub-rooms on tracker shards (`swarmcast tracker`) registered in this Redis, shared with other
   * COM processes. Without it (the default) the embedded tracker serves every sub-room.
   */
  redis?: RedisSettings;
  /** Timing of the shard registry (tests): COM refresh period (default 500 ms). */
  registryRefreshMs?: number;
  /** How often the COM merges shrunken sub-rooms (default 5 s; tests shorten it; 0: never). */
  mergeCheckMs?: number;
  /** Sub-rooms younger than this are not merged (default 30 s; tests shorten it). */
  mergeGraceMs?: number;
  /** MMDB files for viewers' ISP and region. */
  geoDbs?: readonly string[];
  /** CIDR → { isp, region }, looked up before the MMDB files. */
  ispPrefixes?: PrefixTableConfig;
  log: Logger;
}

export interface RunningServer {
  origin: Origin;
  tracker: Tracker;
  com: ComService;
  /** The log server's aggregates (null when logService is off). */
  logs: LogServer | null;
  registry: Registry;
  httpPort: number;
  rtmpPort: number | null;
  stunPort: number | null;
  /** Tracker URL for clients on this machine. */
  trackerUrl: string;
  /** Base URL for clients on this machine. */
  httpUrl: string;
  rtmpUrl: string | null;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log;
  const host = opts.host ?? '127.0.0.1';
  const signer = await loadOrCreateSigner(opts.dataDir, log);
  // Publishing by channel name alone is for loopback; a server others reach needs stream keys.
  const loopbackOnly = /^(127\.|::1$|localhost$)/.test(host);
  const openPublishing = loopbackOnly || (opts.streamKeys?.size ?? 0) > 0;
  if (!openPublishing) {
    log.warn(
      { host },
      'no stream keys: publishing is refused on a server reachable beyond loopback (set SWARMCAST_STREAM_KEYS)',
    );
  }
  const origin = new Origin({
    signer,
    log,
    streamKeys: opts.streamKeys,
    openPublishing: loopbackOnly,
    windowSize: opts.windowSize,
  });
  const limits = opts.addressLimits ?? {};
  const tracker = new Tracker({
    log: log.child({ part: 'tracker' }),
    heartbeatMs: opts.heartbeatMs,
    maxConnectionsPerAddress: limits.trackerConnections,
    limitLoopback: limits.includeLoopback,
    ticketKey: ticketKey(signer.publicKey),
  });
  // Set once Redis is connected (below): viewers on the tracker shards count too.
  let placement: RedisPlacement | undefined;
  const viewerCount = (channel: string) => {
    let n = placement?.viewers(channel) ?? 0;
    for (const occ of tracker.occupancy(channel).values()) n += occ.viewers;
    return n;
  };
  // Set once the RTMP ingest listens (below); the Go-live view asks for it.
  let rtmpPort: number | null = null;
  const api = new OriginHttpApi(origin, {
    blockingTimeoutMs: opts.blockingTimeoutMs,
    ingestIdleMs: opts.ingestIdleMs,
    viewerCount,
    maxHeldReloadsPerAddress: limits.heldReloads,
    maxFlvPerAddress: limits.flvStreams,
    limitLoopback: limits.includeLoopback,
    ingest: () => ({ rtmpPort, keysRequired: (opts.streamKeys?.size ?? 0) > 0 }),
  });
  const registry = createRegistry();
  const logs =
    opts.logService === false
      ? null
      : new LogServer({
          registry,
          log: log.child({ part: 'logs' }),
          knownChannel: (channel) => origin.channels.has(channel),
        });

  let stun: RunningStun | null = null;
  if (opts.stunPort !== null) {
    const stunLog = log.child({ part: 'stun' });
    try {
      stun = await startStun({ port: opts.stunPort ?? 3478, host, log: stunLog });
    } catch (err) {
      // The default port is a convenience: when it is taken, take any (the COM names the real one).
      if (opts.stunPort !== undefined) throw err;
      log.warn({ err: String(err) }, 'stun: default port 3478 unavailable, using a free port');
      stun = await startStun({ port: 0, host, log: stunLog });
    }
  }
  let redis: Redis | null = null;
  const stopEarly = async () => {
    placement?.close();
    redis?.disconnect();
    await tracker.close();
    await stun?.close();
  };
  let com: ComService;
  try {
    const ispLookup = await openIspLookup({
      prefixes: opts.ispPrefixes,
      mmdbPaths: opts.geoDbs,
      log: log.child({ part: 'geo' }),
    });
    if (opts.redis) {
      redis = await connectRedis(opts.redis, log.child({ part: 'redis' }), 'swarmcast-com');
      placement = new RedisPlacement({
        redis,
        log: log.child({ part: 'placement' }),
        splitThreshold: opts.subRoomSize ?? Number.POSITIVE_INFINITY,
        refreshMs: opts.registryRefreshMs,
        graceMs: opts.mergeGraceMs,
      });
      await placement.refresh();
      log.info(
        { redis: redactedUrl(opts.redis.url), shards: placement.shards.map((s) => s.id) },
        'sub-rooms go to tracker shards',
      );
    }
    com = new ComService({
      origin,
      signer,
      seedSecret: opts.seedSecret,
      log: log.child({ part: 'com' }),
      publicUrl: opts.publicUrl,
      trackerUrls: opts.trackerUrls,
      iceServers: opts.iceServers,
      stunPort: stun?.port ?? null,
      turn: opts.turn,
      logServers: opts.logServers,
      ownLogServer: logs !== null,
      subRoomSize: opts.subRoomSize,
      occupancy: (channel) => tracker.occupancy(channel),
      // Merges need the sub-rooms' tracker at hand: only when it is this process's.
      disconnect: opts.trackerUrls
        ? undefined
        : (channel, subRoom, reason) => tracker.disconnectSubRoom(channel, subRoom, reason),
      mergeCheckMs: opts.mergeCheckMs,
      mergeGraceMs: opts.mergeGraceMs,
      placement,
      ispLookup,
    });
  } catch (err) {
    await stopEarly();
    throw err;
  }

  registerServerMetrics(registry, { origin, api, com, tracker, placement });
  const ready = { http: false, ingest: false, com: true, tracker: true, logs: logs !== null || undefined };
  let draining = false;
  const http = createServer((req, res) => {
    try {
      if (req.url === '/healthz') {
        const live = [...origin.channels.values()].filter((c) => c.live).length;
        const parts = { http: ready.http, ingest: ready.ingest, com: ready.com, tracker: ready.tracker };
        return sendHealth(
          res,
          { parts, draining, info: { liveChannels: live, trackerConnections: tracker.connectionCount } },
          req.method === 'HEAD',
        );
      }
      if (opts.metrics !== false && handleMetrics(req, res, registry, log, opts.metricsToken)) return;
      if (logs?.handle(req, res)) return;
      // The COM answers /api/channels/:id before the origin's minimal version of it.
      if (com.handle(req, res)) return;
      if (!api.handle(req, res)) sendError(res, 404, 'not found');
    } catch (err) {
      log.error({ err: String(err), url: req.url }, 'request failed');
      sendError(res, 500, 'internal error');
    }
  });
  // Ingest is one long request; the default 5-minute request timeout would cut every push.
  http.requestTimeout = 0;
  http.on('clientError', (err, socket) => {
    log.debug({ err: err.message }, 'bad http request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  tracker.attach(http);
  let httpPort: number;
  try {
    httpPort = await listen(http, opts.httpPort ?? 8080, host);
  } catch (err) {
    await stopEarly();
    throw err;
  }

  let rtmp: RtmpIngest | null = null;
  if (opts.rtmpPort !== null) {
    rtmp = new RtmpIngest(
      (_app, key, source) => origin.resolvePublish(key, source),
      log.child({ part: 'rtmp' }),
    );
    rtmpPort = await rtmp.listen(opts.rtmpPort ?? 1935, host);
  }
  if (opts.demo !== false) await origin.startDemo(opts.demoClip ?? defaultDemoClip());
  ready.http = true;
  ready.ingest = true;

  const local = urlHost(host);
  const stunPort = stun?.port ?? null;
  log.info({ httpPort, rtmpPort, stunPort }, 'server ready');
  const drainMs = opts.drainMs ?? DEFAULT_DRAIN_MS;
  return {
    origin,
    tracker,
    com,
    logs,
    registry,
    httpPort,
    rtmpPort,
    stunPort,
    trackerUrl: `ws://${local}:${httpPort}${TRACKER_PATH}`,
    httpUrl: `http://${local}:${httpPort}`,
    rtmpUrl: rtmpPort === null ? null : `rtmp://${local}:${rtmpPort}/live`,
    /**
     * Graceful: /healthz turns 503 and new connections are refused at once; requests in flight
     * (segment fetches, blocking reloads) finish; after `drainMs` the rest is cut. Tracker
     * members are told to go (they reconnect through the COM); existing peer links keep going.
     */
    async close() {
      if (draining) return;
      draining = true;
      log.info({ drainMs }, 'draining');
      const drained = drainHttp(http, drainMs);
      api.drain();
      await rtmp?.close();
      await tracker.close();
      await drained;
      com.close();
      placement?.close();
      await redis?.quit().catch(() => redis?.disconnect());
      origin.close();
      await stun?.close();
      log.info('closed');
    },
  };
}
