/** Stalls: 'waiting' after the first frame while not seeking, and the seconds spent in them. */
export class StallCounter {
  private n = 0;
  private done = 0;
  private since: number | null = null;

  /** A stall began at `now` (performance.now()); a second 'waiting' during one is the same stall. */
  begin(now: number): void {
    if (this.since !== null) return;
    this.n++;
    this.since = now;
  }

  /** Playback resumed at `now`. */
  end(now: number): void {
    if (this.since === null) return;
    this.done += (now - this.since) / 1000;
    this.since = null;
  }

  get count(): number {
    return this.n;
  }

  /** Seconds stalled so far, the one in progress included. */
  secondsAt(now: number): number {
    return this.done + (this.since !== null ? (now - this.since) / 1000 : 0);
  }
}
