/**
 * The loopback gateway: HTTP on 127.0.0.1 (port 0), every path behind a per-launch secret
 * token, and a Host check against DNS rebinding. It serves the players' continuous FLV
 * streams and, in browser mode, the renderer and the IPC contract over a WebSocket.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { CoreLog } from '../../../common/logger';

/** Origin of the desktop renderer (Electron's privileged app scheme). */
export const APP_ORIGIN = 'app://swarmcast';

export interface GatewayHandlers {
  /** GET /TOKEN/stream/ID.flv */
  stream(id: string, req: IncomingMessage, res: ServerResponse): void;
  /** GET /TOKEN/preview/CHANNEL.flv: keyframes of a joined channel, video only. */
  preview?(channel: string, req: IncomingMessage, res: ServerResponse): void;
  /** A WebSocket on /TOKEN/ipc (browser mode only). */
  ipc?: (ws: WebSocket) => void;
  /** Folder of the built renderer to serve at /TOKEN/ (browser mode only). */
  rendererDir?: string;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export class Gateway {
  readonly token = randomBytes(24).toString('base64url');
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  port = 0;

  constructor(
    private readonly handlers: GatewayHandlers,
    private readonly log: CoreLog,
  ) {}

  /** http://127.0.0.1:PORT/TOKEN/ */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/${this.token}/`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      try {
        this.route(req, res);
      } catch (err) {
        this.log.error('gateway request failed', { error: String(err) });
        if (!res.headersSent) this.reply(res, 500, 'internal error');
        else res.destroy();
      }
    });
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    if (this.handlers.ipc) this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.log.info('gateway listening', { port: this.port });
  }

  async close(): Promise<void> {
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    this.wss?.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private tokenMatches(candidate: string | undefined): boolean {
    if (!candidate) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private hostAllowed(host: string | undefined): boolean {
    return host === `127.0.0.1:${this.port}` || host === `localhost:${this.port}`;
  }

  /** Checks Host and token; returns the path after the token, or null (and answers). */
  private authorise(req: IncomingMessage, res: ServerResponse | null): string[] | null {
    if (!this.hostAllowed(req.headers.host)) {
      this.log.warn('gateway refused a request for a foreign host', { host: req.headers.host });
      if (res) this.reply(res, 403, 'forbidden host');
      return null;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const parts = path.split('/').slice(1);
    if (!this.tokenMatches(parts[0])) {
      this.log.warn('gateway refused a request with a wrong token', { path: path.slice(0, 16) });
      if (res) this.reply(res, 403, 'wrong token');
      return null;
    }
    return parts.slice(1);
  }

  private corsOrigin(req: IncomingMessage): string | null {
    const origin = req.headers.origin;
    if (!origin) return null;
    const own = [this.origin, `http://localhost:${this.port}`, APP_ORIGIN];
    return own.includes(origin) ? origin : null;
  }

  private reply(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`${message}\n`);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const rest = this.authorise(req, res);
    if (!rest) return;
    const cors = this.corsOrigin(req);
    if (cors) {
      res.setHeader('Access-Control-Allow-Origin', cors);
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Max-Age': '600' });
      return void res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.reply(res, 405, 'method not allowed');
    if (rest[0] === 'stream' && rest.length === 2) {
      const m = /^([a-z0-9]{8,32})\.flv$/.exec(rest[1]!);
      if (!m) return this.reply(res, 404, 'no such stream');
      return this.handlers.stream(m[1]!, req, res);
    }
    if (rest[0] === 'preview' && rest.length === 2 && this.handlers.preview) {
      const m = /^([a-z0-9][a-z0-9_-]{0,63})\.flv$/.exec(rest[1]!);
      if (!m) return this.reply(res, 404, 'no such preview');
      return this.handlers.preview(m[1]!, req, res);
    }
    if (this.handlers.rendererDir) {
      this.serveStatic(rest.join('/'), res).catch((err: unknown) => {
        this.log.error('gateway static request failed', { error: String(err) });
        if (!res.headersSent) this.reply(res, 500, 'internal error');
        else res.destroy();
      });
      return;
    }
    this.reply(res, 404, 'not found');
  }

  private async serveStatic(rel: string, res: ServerResponse): Promise<void> {
    const root = this.handlers.rendererDir!;
    let decoded: string;
    try {
      decoded = rel === '' ? 'index.html' : decodeURIComponent(rel);
    } catch {
      return this.reply(res, 400, 'bad path');
    }
    if (decoded.includes('\0')) return this.reply(res, 400, 'bad path');
    const file = normalize(join(root, decoded));
    if (!file.startsWith(root + sep) && file !== root) return this.reply(res, 403, 'forbidden');
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) return this.reply(res, 404, 'not found');
      size = s.size;
    } catch {
      return this.reply(res, 404, 'not found');
    }
    const ws = `ws://127.0.0.1:${this.port} ws://localhost:${this.port}`;
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self' ${ws}; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    });
    const stream = createReadStream(file);
    stream.on('error', (err) => {
      this.log.warn('gateway could not read a static file', { file, error: String(err) });
      res.destroy();
    });
    stream.pipe(res);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const rest = this.authorise(req, null);
    const origin = req.headers.origin;
    const originOk = origin === this.origin || origin === `http://localhost:${this.port}`;
    if (rest?.[0] !== 'ipc' || !this.wss || !this.handlers.ipc || !originOk) {
      this.log.warn('gateway refused a WebSocket', { origin });
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.handlers.ipc!(ws));
  }
}
