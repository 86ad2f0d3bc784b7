/**
 * Whether the server in use answers, as the connection badge shows it. The core probes the
 * server's /healthz (liveness: any HTTP answer means it is up) every few seconds — faster while
 * it is down, so the badge turns green soon after a restart — and reports each change.
 * Clock and probe are injected so tests can drive it without waiting.
 */
import type { ServerStatus } from '../../../common/ipc-contract';
import { httpExchange } from './origin-http';

export interface ServerWatchOptions {
  /** The server's base URL now (it changes with the settings). */
  url: () => string;
  onChange: (status: ServerStatus) => void;
  /** Probe period while reachable / unreachable (ms). */
  upPeriodMs?: number;
  downPeriodMs?: number;
  /** A probe that takes longer than this counts as a failure (ms). */
  timeoutMs?: number;
  /** One probe: resolves when the server answered at all (any status), rejects when it did not. */
  get?: (url: string, timeoutMs: number) => Promise<unknown>;
  /**
   * When a request to this server made elsewhere last got an answer (ms on `now`'s clock), or
   * null: a playing channel reloads its manifest every second, from the server itself when no
   * CDN is in front, and that says as much as a probe would.
   */
  heardFrom?: (url: string) => number | null;
  now?: () => number;
}

export class ServerWatch {
  private status: ServerStatus = { url: '', reachable: false, checkedAt: 0, error: null };
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly opts: ServerWatchOptions) {}

  get current(): ServerStatus {
    return this.status;
  }

  start(): void {
    void this.probe(true);
  }

  /** Probe now (settings changed the server, or a request just failed). */
  poke(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.probe(true);
  }

  /** What a real request learned: counts like a probe, without waiting for the next one. */
  observe(reachable: boolean, error: string | null): void {
    this.set(reachable, error);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * `force` false (the timer's probe): skipped while a real request to the same server got an
   * answer within the up period — the channel list's polling or a channel's manifest reloads
   * already say the server is there.
   */
  private async probe(force: boolean): Promise<void> {
    if (this.probing || this.closed) return;
    const url = this.opts.url();
    const upPeriod = this.opts.upPeriodMs ?? 5000;
    const heard = Math.max(this.status.checkedAt, this.opts.heardFrom?.(url) ?? 0);
    const since = (this.opts.now ?? Date.now)() - heard;
    if (!force && this.status.reachable && this.status.url === url && since < upPeriod) {
      this.schedule(upPeriod - since);
      return;
    }
    this.probing = true;
    const get = this.opts.get ?? ((u: string, timeoutMs: number) => httpExchange(u, { timeoutMs }));
    try {
      if (!url) throw new Error('no server address yet');
      // Any HTTP status is an answer: a draining server (503) is still there.
      await get(`${url}/healthz`, this.opts.timeoutMs ?? 3000);
      this.set(true, null);
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      this.set(false, e.code ?? e.cause?.code ?? e.cause?.message ?? e.message);
    } finally {
      this.probing = false;
    }
    const period = this.status.reachable ? upPeriod : (this.opts.downPeriodMs ?? 1500);
    this.schedule(period);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probe(false);
    }, ms);
    this.timer.unref?.();
  }

  private set(reachable: boolean, error: string | null): void {
    const url = this.opts.url();
    const changed =
      this.status.checkedAt === 0 ||
      this.status.reachable !== reachable ||
      this.status.url !== url ||
      this.status.error !== error;
    this.status = { url, reachable, checkedAt: (this.opts.now ?? Date.now)(), error };
    if (changed) this.opts.onChange(this.status);
  }
}

/** Whether two URLs name the same server (scheme, host and port); false for one that does not parse. */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
