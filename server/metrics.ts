/**
 * Prometheus metrics of the servers, through prom-client, all named `swarmcast_*`. One Registry
 * per server instance (tests run several in one process). Origin, COM and tracker metrics are
 * read from the parts' own counters when Prometheus scrapes, so nothing on the data path pays
 * for them; the log server's metrics (server/logs/report-book.ts) live in the same registry.
 * deploy/grafana/swarmcast-dashboard.json charts them.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ComService } from './com/com-service';
import type { Logger } from './log';
import type { OriginHttpApi } from './origin/http-api';
import type { Origin } from './origin/origin';
import type { RedisPlacement } from './shards/redis-placement';
import type { Tracker } from './tracker/tracker';

export const METRICS_PATH = '/metrics';

/** A registry with the process metrics (CPU, memory, event-loop lag) prefixed `swarmcast_`. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'swarmcast_' });
  return registry;
}

/**
 * A counter whose value is read from a running total at scrape time. The totals only grow, so
 * setting the counter to them keeps Prometheus' counter semantics.
 */
function counterFrom<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Partial<Record<L, string>>, number]>,
): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

function gaugeFrom<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Partial<Record<L, string>>, number]>,
): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

export interface ServerParts {
  origin: Origin;
  api: OriginHttpApi;
  com: ComService;
  tracker: Tracker;
  /** Sub-rooms on tracker shards through Redis (absent: this process's tracker only). */
  placement?: RedisPlacement;
}

/** Origin (ingest, egress), COM (answers, sub-rooms) and tracker (members, joins, signalling). */
export function registerServerMetrics(registry: Registry, parts: ServerParts): void {
  const { origin, api, com, tracker, placement } = parts;
  const channels = () => [...origin.channels.values()];
  gaugeFrom(
    registry,
    'swarmcast_ingest_live',
    'Whether the channel is being published (1) or not (0)',
    ['channel'],
    () => channels().map((ch) => [{ channel: ch.id }, ch.live ? 1 : 0]),
  );
  gaugeFrom(
    registry,
    'swarmcast_ingest_bitrate_bps',
    'Bitrate of the channel over its recent segments, bit/s',
    ['channel'],
    () => channels().map((ch) => [{ channel: ch.id }, ch.live ? ch.bitrateKbps() * 1000 : 0]),
  );
  counterFrom(registry, 'swarmcast_origin_segments_total', 'Segments cut by the origin', ['channel'], () =>
    channels().map((ch) => [{ channel: ch.id }, ch.segmentsCut]),
  );
  counterFrom(
    registry,
    'swarmcast_origin_bytes_sent_total',
    'Body bytes the origin served (what a CDN carries), by kind',
    ['kind'],
    () => Object.entries(api.sent).map(([kind, n]) => [{ kind }, n]),
  );
  counterFrom(
    registry,
    'swarmcast_com_channel_info_requests_total',
    'Channel-info answers of the COM service',
    ['channel'],
    () => [...com.requests].map(([channel, n]) => [{ channel }, n]),
  );
  counterFrom(
    registry,
    'swarmcast_sub_rooms_merged_total',
    'Shrunken sub-rooms this COM merged into others',
    [],
    () => [[{}, com.merges]],
  );
  if (placement) {
    gaugeFrom(
      registry,
      'swarmcast_tracker_shards_live',
      'Tracker shards registered in Redis and alive',
      [],
      () => [[{}, placement.shards.length]],
    );
    counterFrom(
      registry,
      'swarmcast_sub_rooms_moved_total',
      'Sub-rooms this COM moved off tracker shards that died',
      [],
      () => [[{}, placement.moved]],
    );
  }
  registerTrackerMetrics(registry, tracker);
}

/** The tracker's members, joins and signalling (a server's embedded tracker, or a shard). */
export function registerTrackerMetrics(registry: Registry, tracker: Tracker): void {
  gaugeFrom(registry, 'swarmcast_sub_rooms', 'Sub-rooms with members', ['channel'], () =>
    tracker.channelsWithMembers().map((channel) => [{ channel }, tracker.occupancy(channel).size]),
  );
  gaugeFrom(
    registry,
    'swarmcast_tracker_members',
    'Tracker members by role',
    ['channel', 'role'],
    function* () {
      for (const channel of tracker.channelsWithMembers()) {
        let viewers = 0;
        let seeds = 0;
        for (const occ of tracker.occupancy(channel).values()) {
          viewers += occ.viewers;
          seeds += occ.seeds.length;
        }
        yield [{ channel, role: 'viewer' }, viewers];
        yield [{ channel, role: 'seed' }, seeds];
      }
    },
  );
  gaugeFrom(registry, 'swarmcast_tracker_connections', 'Open tracker WebSocket connections', [], () => [
    [{}, tracker.connectionCount],
  ]);
  counterFrom(registry, 'swarmcast_tracker_joins_total', 'Tracker joins', ['channel'], () =>
    [...tracker.joins].map(([channel, n]) => [{ channel }, n]),
  );
  counterFrom(registry, 'swarmcast_tracker_signals_total', 'Signalling messages relayed', [], () => [
    [{}, tracker.signalsRelayed],
  ]);
}

function tokenMatches(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * GET /metrics in the Prometheus text format; with a token, only for `Authorization: Bearer
 * <token>`. Returns false for other paths.
 */
export function handleMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  log: Logger,
  token?: string,
): boolean {
  if ((req.url ?? '').split('?')[0] !== METRICS_PATH) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return true;
  }
  if (token !== undefined) {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !tokenMatches(auth.slice(7), token)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="swarmcast metrics"' }).end();
      return true;
    }
  }
  registry.metrics().then(
    (text) => {
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
    (err: unknown) => {
      log.error({ err: String(err) }, 'metrics collection failed');
      if (!res.headersSent) res.writeHead(500).end();
    },
  );
  return true;
}
