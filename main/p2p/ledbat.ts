/**
 * Delay-based congestion control for one upload link, after LEDBAT (RFC 6817), on top of
 * the data channel: the receiver echoes each chunk's send time with a one-way delay sample;
 * the base delay is a running minimum (per-minute buckets); queueing delay = current − base.
 * The window grows while queueing delay is below the target and shrinks as soon as it grows
 * past it, so a TCP flow sharing the uplink keeps its throughput. Pure: the caller supplies
 * the clock.
 */

export interface LedbatOptions {
  /** Target queueing delay (ms); RFC 6817 requires ≤ 100. */
  targetMs?: number;
  /** Window gain (≤ 1). */
  gain?: number;
  /** Bytes one "segment" of the window counts for (our chunk size). */
  mss?: number;
  /** Minimum window, in MSS. */
  minCwndMss?: number;
  initialCwndMss?: number;
  /** Length of one base-delay bucket (ms) and how many are kept. */
  baseBucketMs?: number;
  baseBuckets?: number;
  /** Delay samples in the current-delay filter (a minimum over the last few). */
  currentFilter?: number;
}

export class Ledbat {
  readonly targetMs: number;
  private readonly gain: number;
  readonly mss: number;
  private readonly minCwnd: number;
  private readonly baseBucketMs: number;
  private readonly baseBuckets: number;
  private readonly currentFilter: number;
  /** Congestion window (bytes allowed in flight). */
  cwnd: number;
  private baseHistory: Array<{ start: number; min: number }> = [];
  private currentSamples: number[] = [];
  /** Smoothed round-trip time (ms), from ack timing. */
  srttMs = 100;
  lastQueueingDelayMs = 0;

  constructor(opts: LedbatOptions = {}) {
    this.targetMs = Math.min(opts.targetMs ?? 60, 100);
    this.gain = Math.min(opts.gain ?? 1, 1);
    this.mss = opts.mss ?? 32 * 1024;
    this.minCwnd = (opts.minCwndMss ?? 2) * this.mss;
    this.cwnd = (opts.initialCwndMss ?? 4) * this.mss;
    this.baseBucketMs = opts.baseBucketMs ?? 60_000;
    this.baseBuckets = opts.baseBuckets ?? 10;
    this.currentFilter = opts.currentFilter ?? 4;
  }

  get baseDelayMs(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const b of this.baseHistory) if (b.min < min) min = b.min;
    return min;
  }

  private addDelaySample(delayMs: number, now: number): void {
    const last = this.baseHistory[this.baseHistory.length - 1];
    if (!last || now - last.start >= this.baseBucketMs) {
      this.baseHistory.push({ start: now, min: delayMs });
      if (this.baseHistory.length > this.baseBuckets) this.baseHistory.shift();
    } else if (delayMs < last.min) {
      last.min = delayMs;
    }
    this.currentSamples.push(delayMs);
    if (this.currentSamples.length > this.currentFilter) this.currentSamples.shift();
  }

  /** Queueing delay now: the filtered current delay above the base delay. */
  queueingDelayMs(): number {
    if (this.currentSamples.length === 0) return 0;
    return Math.max(0, Math.min(...this.currentSamples) - this.baseDelayMs);
  }

  /**
   * An acknowledgement: `ackedBytes` newly acknowledged, the receiver's one-way delay sample,
   * `flightBytes` in flight before it, `rttMs` if measured.
   */
  onAck(
    now: number,
    ackedBytes: number,
    delaySampleMs: number,
    flightBytes: number,
    rttMs: number | null,
  ): void {
    if (rttMs !== null && rttMs >= 0) this.srttMs = this.srttMs * 0.875 + rttMs * 0.125;
    this.addDelaySample(delaySampleMs, now);
    const queueing = this.queueingDelayMs();
    this.lastQueueingDelayMs = queueing;
    const offTarget = (this.targetMs - queueing) / this.targetMs;
    this.cwnd += (this.gain * offTarget * ackedBytes * this.mss) / this.cwnd;
    // Grow only while the window is actually used (RFC 6817 "max_allowed_cwnd").
    const maxAllowed = flightBytes + 2 * this.mss;
    if (this.cwnd > maxAllowed) this.cwnd = Math.max(maxAllowed, this.minCwnd);
    if (this.cwnd < this.minCwnd) this.cwnd = this.minCwnd;
  }

  /** A transfer stalled (no acknowledgement for a long time): halve, as RFC 6817 does on loss. */
  onLoss(): void {
    this.cwnd = Math.max(this.minCwnd, this.cwnd / 2);
  }

  /** The rate the window allows (bytes/ms), for pacing. */
  rateBytesPerMs(): number {
    return this.cwnd / Math.max(5, this.srttMs);
  }
}
