/**
 * The viewer's outbox of quality reports. Reports wait here until a log server takes them:
 * batched (at most MAX_REPORTS_PER_BATCH and MAX_REPORT_BATCH_BYTES a POST), sent in the
 * background on an unref'd timer, never awaited by playback. While the log servers are down
 * the queue keeps the newest reports within a bound (count and age) and retries with
 * exponential backoff, rotating through the channel's log servers; a log server that refuses
 * a batch as invalid (400/413) gets it dropped, since sending it again cannot succeed.
 */
import type { CoreLog } from '../../../common/logger';
import {
  MAX_REPORT_BATCH_BYTES,
  MAX_REPORTS_PER_BATCH,
  type QualityReport,
  REPORTS_PATH,
} from '../../../common/quality-report';
import { httpExchange } from '../manifest/origin-http';

/** POSTs a JSON body; resolves with the HTTP status, rejects on a network error or timeout. */
export type PostJson = (url: string, body: string, timeoutMs: number) => Promise<number>;

export interface ReportQueueOptions {
  log: CoreLog;
  post?: PostJson;
  now?: () => number;
  /** Reports kept while undeliverable (newest win; default 360 = an hour of one channel). */
  maxQueued?: number;
  /** Reports older than this are dropped unsent (default 1 h). */
  maxAgeMs?: number;
  /** Send period while things work, and the first backoff step (default 10 s). */
  intervalMs?: number;
  /** Longest backoff after failures (default 5 min). */
  maxBackoffMs?: number;
  /** One POST's timeout (default 5 s). */
  timeoutMs?: number;
}

interface Entry {
  servers: readonly string[];
  key: string;
  report: QualityReport;
  queuedAt: number;
}

const defaultPost: PostJson = async (url, body, timeoutMs) => {
  const res = await httpExchange(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    timeoutMs,
  });
  return res.status;
};

export class ReportQueue {
  private readonly entries: Entry[] = [];
  private readonly post: PostJson;
  private readonly now: () => number;
  private readonly maxQueued: number;
  private readonly maxAgeMs: number;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private backoffMs = 0;
  private nextServer = 0;
  private closed = false;
  /** Delivered and dropped reports, for stats and tests. */
  delivered = 0;
  dropped = 0;

  constructor(private readonly opts: ReportQueueOptions) {
    this.post = opts.post ?? defaultPost;
    this.now = opts.now ?? Date.now;
    this.maxQueued = opts.maxQueued ?? 360;
    this.maxAgeMs = opts.maxAgeMs ?? 3_600_000;
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 300_000;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Queues a report for the given log servers (base URLs); nothing happens without any. */
  add(servers: readonly string[], report: QualityReport): void {
    if (this.closed || servers.length === 0) return;
    this.entries.push({ servers, key: servers.join(' '), report, queuedAt: this.now() });
    if (this.entries.length > this.maxQueued) {
      const over = this.entries.length - this.maxQueued;
      this.entries.splice(0, over);
      this.drop(over, 'queue full');
    }
    this.schedule(this.backoffMs || this.intervalMs);
  }

  /** Sends what is queued now (one pass; failures back off as usual). */
  flush(): Promise<void> {
    this.sending ??= this.sendAll().finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  /** Tries to deliver what is left within `graceMs`, then stops for good. */
  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.entries.length > 0) {
      await Promise.race([this.flush(), new Promise((ok) => setTimeout(ok, graceMs).unref())]);
    }
    this.closed = true;
    this.entries.length = 0;
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer || this.entries.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().then(() => this.schedule(this.backoffMs || this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private drop(n: number, why: string): void {
    this.dropped += n;
    this.opts.log.warn('quality reports dropped', { count: n, why });
  }

  private expire(): void {
    const cutoff = this.now() - this.maxAgeMs;
    let old = 0;
    while (old < this.entries.length && this.entries[old]!.queuedAt < cutoff) old++;
    if (old > 0) {
      this.entries.splice(0, old);
      this.drop(old, 'too old');
    }
  }

  /** The oldest reports for one set of log servers, within the batch caps. */
  private nextBatch(): { servers: readonly string[]; taken: Entry[]; body: string } | null {
    this.expire();
    const first = this.entries[0];
    if (!first) return null;
    const taken: Entry[] = [];
    let size = '{"reports":[]}'.length;
    for (const e of this.entries) {
      if (e.key !== first.key) continue;
      const len = Buffer.byteLength(JSON.stringify(e.report)) + 1;
      if (taken.length >= MAX_REPORTS_PER_BATCH || size + len > MAX_REPORT_BATCH_BYTES) break;
      taken.push(e);
      size += len;
    }
    return { servers: first.servers, taken, body: JSON.stringify({ reports: taken.map((e) => e.report) }) };
  }

  private remove(taken: readonly Entry[]): void {
    const gone = new Set(taken);
    const kept = this.entries.filter((e) => !gone.has(e));
    this.entries.length = 0;
    this.entries.push(...kept);
  }

  private async sendAll(): Promise<void> {
    for (let batches = 0; batches < 20 && !this.closed; batches++) {
      const batch = this.nextBatch();
      if (!batch) return;
      const base = batch.servers[this.nextServer % batch.servers.length]!.replace(/\/+$/, '');
      let status: number;
      try {
        status = await this.post(`${base}${REPORTS_PATH}`, batch.body, this.timeoutMs);
      } catch (err) {
        status = 0;
        this.opts.log.debug('log server unreachable', { server: base, error: String(err) });
      }
      if (status >= 200 && status < 300) {
        this.remove(batch.taken);
        this.delivered += batch.taken.length;
        this.backoffMs = 0;
        continue;
      }
      if (status === 400 || status === 413 || status === 422) {
        this.remove(batch.taken);
        this.drop(batch.taken.length, `log server refused the batch (${status})`);
        continue;
      }
      // Down, overloaded (429/5xx) or unreachable: try the next server after a longer pause.
      this.nextServer++;
      this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs ? this.backoffMs * 2 : this.intervalMs);
      this.opts.log.info('quality reports held back', { server: base, status, queued: this.entries.length });
      return;
    }
  }
}
