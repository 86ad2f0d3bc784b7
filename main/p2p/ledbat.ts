/**
 * Delay-based congestion control for the node's uploads, after LEDBAT (RFC 6817), on top of
 * the data channels: the receiver echoes each chunk's send time with a one-way delay sample;
 * each link keeps its own base delay (a running minimum in per-minute buckets) and turns its
 * samples into queueing delay = current − base; one window for all links together grows
 * while queueing delay is below the target and shrinks as soon as it rises past it, so a TCP
 * flow sharing the uplink keeps its throughput. Pure: the caller supplies the clock.
 */

export interface DelayTrackerOptions {
  /** Length of one base-delay bucket (ms) and how many are kept. */
  baseBucketMs?: number;
  baseBuckets?: number;
  /** Delay samples in the current-delay filter (a minimum over the last few). */
  currentFilter?: number;
}

/** One path's delay: base delay (running minimum) and queueing delay above it. */
export class DelayTracker {
  private readonly baseBucketMs: number;
  private readonly baseBuckets: number;
  private readonly currentFilter: number;
  private baseHistory: Array<{ start: number; min: number }> = [];
  private currentSamples: number[] = [];

  constructor(opts: DelayTrackerOptions = {}) {
    this.baseBucketMs = opts.baseBucketMs ?? 60_000;
    this.baseBuckets = opts.baseBuckets ?? 10;
    this.currentFilter = opts.currentFilter ?? 4;
  }

  get baseDelayMs(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const b of this.baseHistory) if (b.min < min) min = b.min;
    return min;
  }

  add(delayMs: number, now: number): void {
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
}

/** Largest round trip the pacing rate is computed with (ms). */
const MAX_PACING_RTT_MS = 250;
/** The round trip the pacing rate assumes before the first one is measured (ms). */
const INITIAL_RTT_MS = 100;

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
}

export class Ledbat {
  readonly targetMs: number;
  private readonly gain: number;
  readonly mss: number;
  private readonly minCwnd: number;
  /** Congestion window (bytes allowed in flight). */
  cwnd: number;
  /**
   * Smoothed round-trip time (ms), from ack timing; the first sample is taken as it is (as TCP
   * does, RFC 6298), INITIAL_RTT_MS until then. Smoothed down from the guess instead, a new
   * uploader paced a LAN or loopback path as if its round trip were 50–90 ms for its first
   * dozen acks (about 1 MB/s at the initial window): in bench:swarm's rooms of 3 and 5, whose
   * viewers all start together and all ask the first copy's holder at once, they judged its
   * transfers too slow, took the segments from the CDN and got their first bytes from peers
   * 3–6 s after starting (1–3 s since).
   */
  srttMs: number | null = null;
  lastQueueingDelayMs = 0;
  /** Largest flight of the last second: video goes out in bursts (a segment a second), and the
   *  "grow only while used" limit must not shrink the window to nothing between two bursts. */
  private recentFlight: Array<{ at: number; bytes: number }> = [];

  constructor(opts: LedbatOptions = {}) {
    this.targetMs = Math.min(opts.targetMs ?? 60, 100);
    this.gain = Math.min(opts.gain ?? 1, 1);
    this.mss = opts.mss ?? 16 * 1024;
    this.minCwnd = (opts.minCwndMss ?? 2) * this.mss;
    this.cwnd = (opts.initialCwndMss ?? 4) * this.mss;
  }

  /**
   * An acknowledgement: `ackedBytes` newly acknowledged, the queueing delay its path sees now,
   * `flightBytes` in flight before it, `rttMs` if measured.
   */
  onAck(
    now: number,
    ackedBytes: number,
    queueingDelayMs: number,
    flightBytes: number,
    rttMs: number | null,
  ): void {
    if (rttMs !== null && rttMs >= 0)
      this.srttMs = this.srttMs === null ? rttMs : this.srttMs * 0.875 + rttMs * 0.125;
    this.lastQueueingDelayMs = queueingDelayMs;
    const offTarget = (this.targetMs - queueingDelayMs) / this.targetMs;
    this.cwnd += (this.gain * offTarget * ackedBytes * this.mss) / this.cwnd;
    // Grow only while the window is actually used (RFC 6817 "max_allowed_cwnd"), judged on
    // the last second's largest flight.
    this.recentFlight.push({ at: now, bytes: flightBytes });
    while (this.recentFlight.length && now - this.recentFlight[0]!.at > 1000) this.recentFlight.shift();
    let used = 0;
    for (const f of this.recentFlight) if (f.bytes > used) used = f.bytes;
    const maxAllowed = used + 2 * this.mss;
    if (this.cwnd > maxAllowed) this.cwnd = Math.max(maxAllowed, this.minCwnd);
    if (this.cwnd < this.minCwnd) this.cwnd = this.minCwnd;
  }

  /** A transfer stalled (no acknowledgement for a long time): halve, as RFC 6817 does on loss. */
  onLoss(): void {
    this.cwnd = Math.max(this.minCwnd, this.cwnd / 2);
  }

  /** The round trip (ms): the smoothed one, or INITIAL_RTT_MS before the first is measured. */
  roundTripMs(): number {
    return this.srttMs ?? INITIAL_RTT_MS;
  }

  /** The rate the window allows (bytes/ms), for pacing. */
  rateBytesPerMs(): number {
    // The window, not the pace, holds the flight to what the path carries: a round trip
    // inflated by a busy CPU must not slow the pace below what the window allows.
    return this.cwnd / Math.min(MAX_PACING_RTT_MS, Math.max(5, this.roundTripMs()));
  }
}
