/**
 * What every Swarmcast HTTP server does around its routes: listening, a readiness answer on
 * /healthz and a graceful close. Close stops accepting at once, lets requests in flight finish
 * (idle keep-alive sockets are closed straight away), and after `drainMs` cuts whatever is
 * still open (HTTP-FLV viewers and pushes never finish by themselves).
 */
import type { Server, ServerResponse } from 'node:http';

/** Listens on `host:port` (0 = any free port); resolves with the port bound. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** How a URL names a server listening on `host`: a wildcard address as loopback, IPv6 in brackets. */
export function urlHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

export interface Health {
  /** Part name → ready. */
  parts: Record<string, boolean>;
  draining: boolean;
  /** Extra facts for operators (live channels, members). */
  info?: Record<string, unknown>;
}

/** 200 when every part is ready and the server is not draining, else 503 (load balancers take it out). */
export function sendHealth(res: ServerResponse, health: Health, head = false): void {
  const ready = !health.draining && Object.values(health.parts).every(Boolean);
  const body = JSON.stringify({
    status: health.draining ? 'draining' : ready ? 'ok' : 'starting',
    ...health.parts,
    ...(health.info ?? {}),
  });
  res.writeHead(ready ? 200 : 503, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(head ? undefined : body);
}

export const DEFAULT_DRAIN_MS = 10_000;

/** Stops accepting, waits up to `drainMs` for open requests, then closes every connection. */
export function drainHttp(server: Server, drainMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      return resolve();
    }
    const cut = setTimeout(() => server.closeAllConnections(), drainMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
    // Keep-alive sockets that become idle after their last response must not hold the close.
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    server.once('close', () => clearInterval(idle));
  });
}
