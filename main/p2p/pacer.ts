/**
 * Pacing and the upload budget: token buckets on an injected clock. One bucket holds the
 * user's upload cap for all links together; each chunk leaves only when there are tokens,
 * so data goes out on a schedule, never in bursts larger than `burstBytes`.
 */

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** `bytesPerMs` null = unlimited. */
  constructor(
    private bytesPerMs: number | null,
    private readonly burstBytes: number,
    now: number,
  ) {
    this.tokens = burstBytes;
    this.last = now;
  }

  get rateBytesPerMs(): number | null {
    return this.bytesPerMs;
  }

  setRate(bytesPerMs: number | null, now: number): void {
    this.refill(now);
    this.bytesPerMs = bytesPerMs;
  }

  private refill(now: number): void {
    if (this.bytesPerMs === null) {
      this.tokens = this.burstBytes;
    } else {
      this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.last) * this.bytesPerMs);
    }
    this.last = now;
  }

  /** Takes `bytes` if available now; the bucket may go negative by one chunk so big chunks still pass. */
  tryTake(bytes: number, now: number): boolean {
    this.refill(now);
    if (this.bytesPerMs === null) return true;
    if (this.tokens <= 0) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Milliseconds until a take can succeed (0 = now). */
  waitMs(now: number): number {
    this.refill(now);
    if (this.bytesPerMs === null || this.tokens > 0) return 0;
    return Math.ceil(-this.tokens / this.bytesPerMs) + 1;
  }
}

/** kbit/s → bytes per millisecond (null stays null: no cap). */
export function kbpsToBytesPerMs(kbps: number | null): number | null {
  return kbps === null ? null : (kbps * 1000) / 8 / 1000;
}

/** A moving rate meter (bytes/s over a sliding window), on an injected clock. */
export class RateMeter {
  private samples: Array<{ at: number; bytes: number }> = [];
  total = 0;

  constructor(private readonly windowMs = 2000) {}

  add(bytes: number, now: number): void {
    this.samples.push({ at: now, bytes });
    this.total += bytes;
    this.trim(now);
  }

  private trim(now: number): void {
    while (this.samples.length && now - this.samples[0]!.at > this.windowMs) this.samples.shift();
  }

  bytesPerSecond(now: number): number {
    this.trim(now);
    let sum = 0;
    for (const s of this.samples) sum += s.bytes;
    return (sum * 1000) / this.windowMs;
  }
}
