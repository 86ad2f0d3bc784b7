/**
 * Rates on an injected clock: kbit/s conversions and a sliding-window rate meter. The token
 * bucket that holds the upload cap and the pacing is common/token-bucket.ts.
 */

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
