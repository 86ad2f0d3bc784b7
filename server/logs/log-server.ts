/**
 * The log server's HTTP side: POST /api/reports takes a batch of quality reports
 * (common/quality-report.ts), checks its size, rate and schema, and hands each report to the
 * ReportBook. Answers: 204 taken; 400 malformed; 405 wrong method; 413 too large; 429 too
 * frequent (with Retry-After), so the viewer's outbox knows to drop or to retry.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { CHANNEL_ID_PATTERN } from '../../common/manifest';
import {
  MAX_REPORT_BATCH_BYTES,
  REPORTS_PATH,
  ROOMS_PATH,
  reportBatchSchema,
} from '../../common/quality-report';
import { TokenBucket } from '../../common/token-bucket';
import type { Logger } from '../log';
import { ReportBook, type ReportBookOptions } from './report-book';

export interface LogServerOptions extends Omit<ReportBookOptions, 'registry'> {
  registry: Registry;
  log: Logger;
  /** Batches one address may send per second, and its burst (default 2/s, burst 20). */
  perAddressRate?: number;
  perAddressBurst?: number;
}

/** Addresses whose buckets are remembered; the oldest are forgotten past this. */
const MAX_ADDRESSES = 50_000;

export class LogServer {
  readonly book: ReportBook;
  private readonly log: Logger;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly results: Counter<'result'>;
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private lastWarn = 0;

  constructor(opts: LogServerOptions) {
    this.log = opts.log;
    this.book = new ReportBook(opts);
    this.now = opts.now ?? Date.now;
    this.rate = opts.perAddressRate ?? 2;
    this.burst = opts.perAddressBurst ?? 20;
    this.results = new Counter({
      name: 'swarmcast_reports_total',
      help: 'Quality reports received, by result',
      labelNames: ['result'],
      registers: [opts.registry],
    });
    this.results.inc({ result: 'accepted' }, 0);
    this.results.inc({ result: 'rejected' }, 0);
  }

  /** GET /api/rooms/:channel: the room's summary (404 until a viewer of it has reported). */
  private room(channel: string, req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const summary = CHANNEL_ID_PATTERN.test(channel) ? this.book.roomSummary(channel) : null;
    const body = JSON.stringify(summary ?? { error: `no reports for "${channel.slice(0, 64)}"` });
    res
      .writeHead(summary ? 200 : 404, { 'content-type': 'application/json', 'cache-control': 'no-cache' })
      .end(req.method === 'HEAD' ? undefined : body);
  }

  /** Handles POST /api/reports and GET /api/rooms/:channel; returns false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path.startsWith(ROOMS_PATH)) {
      this.room(path.slice(ROOMS_PATH.length), req, res);
      return true;
    }
    if (path !== REPORTS_PATH) return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST' }).end();
      return true;
    }
    const address = req.socket.remoteAddress ?? 'unknown';
    if (!this.bucketOf(address).take(1, this.now())) {
      this.refuse(res, 429, 'too many report batches', address, { 'Retry-After': '10' });
      req.resume();
      return true;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_REPORT_BATCH_BYTES) {
      this.refuse(res, 413, `a batch is at most ${MAX_REPORT_BATCH_BYTES} bytes`, address);
      req.destroy();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_REPORT_BATCH_BYTES) {
        done = true;
        this.refuse(res, 413, `a batch is at most ${MAX_REPORT_BATCH_BYTES} bytes`, address);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      this.take(Buffer.concat(chunks), address, res);
    });
    req.on('error', () => {
      done = true;
    });
    return true;
  }

  private take(body: Buffer, address: string, res: ServerResponse): void {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return this.refuse(res, 400, 'the body is not JSON', address);
    }
    const parsed = reportBatchSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.') || 'batch'}: ${issue.message}` : 'invalid';
      return this.refuse(res, 400, `invalid report batch (${where})`, address);
    }
    let accepted = 0;
    let why = '';
    for (const r of parsed.data.reports) {
      const result = this.book.add(r);
      if (result.ok) accepted++;
      else why = result.why;
    }
    const rejected = parsed.data.reports.length - accepted;
    this.results.inc({ result: 'accepted' }, accepted);
    if (rejected > 0) {
      this.results.inc({ result: 'rejected' }, rejected);
      this.warn({ address, rejected, why }, 'quality reports refused');
    }
    res.writeHead(204).end();
  }

  private refuse(
    res: ServerResponse,
    status: number,
    message: string,
    address: string,
    headers: Record<string, string> = {},
  ): void {
    this.results.inc({ result: 'rejected' });
    this.warn({ address, status, why: message }, 'report batch refused');
    if (res.headersSent) return;
    const body = JSON.stringify({ error: message });
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  }

  /** At most one warning a second: a flood of bad batches must not become a flood of log lines. */
  private warn(fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - this.lastWarn < 1000) return void this.log.debug(fields, message);
    this.lastWarn = now;
    this.log.warn(fields, message);
  }

  private bucketOf(address: string): TokenBucket {
    let b = this.buckets.get(address);
    if (!b) {
      if (this.buckets.size >= MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
      b = new TokenBucket(this.rate / 1000, this.burst, this.now());
      this.buckets.set(address, b);
    }
    return b;
  }
}
