/**
 * `swarmcast server` as a library: origin (HTTP + RTMP ingest + demo channel) in one process.
 * Used by the CLI, by tests, and by the desktop app's embedded local origin.
 */
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from './log';
import { OriginHttpApi, sendError } from './origin/http-api';
import { Origin } from './origin/origin';
import { RtmpIngest } from './origin/rtmp-ingest';
import { loadOrCreateSigner } from './origin/signing-key';

export const DEFAULT_DEMO_CLIP = fileURLToPath(new URL('../assets/demo.flv', import.meta.url));

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
  log: Logger;
}

export interface RunningServer {
  origin: Origin;
  httpPort: number;
  rtmpPort: number | null;
  /** Base URL for clients on this machine. */
  httpUrl: string;
  rtmpUrl: string | null;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log;
  const host = opts.host ?? '127.0.0.1';
  const signer = await loadOrCreateSigner(opts.dataDir, log);
  const origin = new Origin({ signer, log, streamKeys: opts.streamKeys, windowSize: opts.windowSize });
  const api = new OriginHttpApi(origin, { blockingTimeoutMs: opts.blockingTimeoutMs });

  const http = createServer((req, res) => {
    try {
      if (req.url === '/healthz') return void res.end('ok');
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
  const httpPort = await listen(http, opts.httpPort ?? 8080, host);

  let rtmp: RtmpIngest | null = null;
  let rtmpPort: number | null = null;
  if (opts.rtmpPort !== null) {
    rtmp = new RtmpIngest(
      (_app, key, source) => origin.resolvePublish(key, source),
      log.child({ part: 'rtmp' }),
    );
    rtmpPort = await rtmp.listen(opts.rtmpPort ?? 1935, host);
  }
  if (opts.demo !== false) await origin.startDemo(opts.demoClip ?? DEFAULT_DEMO_CLIP);

  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  log.info({ httpPort, rtmpPort }, 'server ready');
  return {
    origin,
    httpPort,
    rtmpPort,
    httpUrl: `http://${local}:${httpPort}`,
    rtmpUrl: rtmpPort === null ? null : `rtmp://${local}:${rtmpPort}/live`,
    async close() {
      origin.close();
      await rtmp?.close();
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
