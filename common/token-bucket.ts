/**
 * A token bucket on an injected clock (ms): `ratePerMs` tokens refill continuously up to
 * `burst`. The uploader's cap and pacing count bytes; the tracker's rate limits count
 * messages. A null rate is unlimited.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private ratePerMs: number | null,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  get rate(): number | null {
    return this.ratePerMs;
  }

  setRate(ratePerMs: number | null, now: number): void {
    this.refill(now);
    this.ratePerMs = ratePerMs;
  }

  private refill(now: number): void {
    if (this.ratePerMs === null) this.tokens = this.burst;
    else this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.ratePerMs);
    this.last = now;
  }

  /** Takes `n` tokens if the bucket holds them all; false (and nothing taken) otherwise. */
  take(n: number, now: number): boolean {
    this.refill(now);
    if (this.ratePerMs === null) return true;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * Takes `n` tokens whenever any are left, going into debt by at most one take: a big chunk
   * still passes, and the debt delays the next one (pacing).
   */
  takeWithDebt(n: number, now: number): boolean {
    this.refill(now);
    if (this.ratePerMs === null) return true;
    if (this.tokens <= 0) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until `takeWithDebt` can succeed (0 = now). */
  waitMs(now: number): number {
    this.refill(now);
    if (this.ratePerMs === null || this.tokens > 0) return 0;
    return Math.ceil(-this.tokens / this.ratePerMs) + 1;
  }
}
