/**
 * `swarmcast logs` as a library: a log server on its own (POST /api/reports, GET /metrics,
 * GET /healthz), for deployments that keep viewers' reports away from the origin. Channel
 * info names it through the server's `logServers` setting.
 */
import { createServer } from 'node:http';
import type { Registry } from 'prom-client';
import { DEFAULT_DRAIN_MS, drainHttp, listen, sendHealth, urlHost } from '../http-lifecycle';
import type { Logger } from '../log';
import { createRegistry, handleMetrics } from '../metrics';
import { LogServer } from './log-server';

export interface LogServiceOptions {
  host?: string;
  /** Default 8090; 0 = any free port. */
  port?: number;
  metricsToken?: string;
  drainMs?: number;
  /** Channel labels kept (default 256). */
  maxChannels?: number;
  log: Logger;
}

export interface RunningLogService {
  logs: LogServer;
  registry: Registry;
  port: number;
  /** Base URL for clients on this machine (what channel info's logServers would name). */
  url: string;
  close(): Promise<void>;
}

export async function startLogService(opts: LogServiceOptions): Promise<RunningLogService> {
  const log = opts.log;
  const host = opts.host ?? '127.0.0.1';
  const registry = createRegistry();
  const logs = new LogServer({ registry, log: log.child({ part: 'logs' }), maxChannels: opts.maxChannels });
  let draining = false;
  const http = createServer((req, res) => {
    try {
      if (req.url === '/healthz')
        return sendHealth(res, { parts: { logs: true }, draining }, req.method === 'HEAD');
      if (handleMetrics(req, res, registry, log, opts.metricsToken)) return;
      if (logs.handle(req, res)) return;
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}');
    } catch (err) {
      log.error({ err: String(err), url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  http.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  const port = await listen(http, opts.port ?? 8090, host);
  const local = urlHost(host);
  log.info({ port }, 'log server ready');
  return {
    logs,
    registry,
    port,
    url: `http://${local}:${port}`,
    async close() {
      if (draining) return;
      draining = true;
      await drainHttp(http, opts.drainMs ?? DEFAULT_DRAIN_MS);
    },
  };
}
