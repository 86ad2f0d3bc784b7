/**
 * Maps a publisher's timestamps onto the channel's continuous timeline: every publisher
 * (a reconnecting OBS, the next loop of the demo clip, a new ffmpeg) continues where the
 * previous one stopped, and a jump inside one publisher's stream is closed up, so segment
 * timestamps stay monotonic for the whole life of the channel.
 */
export interface RebaserOptions {
  /** First output timestamp for this publisher (previous publisher's end, or 0). */
  startAt: number;
  /** A backward step larger than this (ms) is a discontinuity (audio may trail video a little). */
  maxBackwardMs?: number;
  /** A forward step larger than this (ms) is a discontinuity. */
  maxForwardMs?: number;
  /** Gap inserted at a discontinuity (ms): about one frame. */
  gapMs?: number;
}

export class TimestampRebaser {
  private offset: number | null = null;
  private lastIn = 0;
  private maxOut: number;
  private readonly maxBackwardMs: number;
  private readonly maxForwardMs: number;
  private readonly gapMs: number;
  discontinuities = 0;

  constructor(private readonly opts: RebaserOptions) {
    this.maxOut = opts.startAt;
    this.maxBackwardMs = opts.maxBackwardMs ?? 1000;
    this.maxForwardMs = opts.maxForwardMs ?? 5000;
    this.gapMs = opts.gapMs ?? 40;
  }

  /** Largest timestamp handed out so far. */
  get lastOutput(): number {
    return this.maxOut;
  }

  map(ts: number): number {
    if (this.offset === null) {
      this.offset = this.opts.startAt - ts;
    } else {
      const step = ts - this.lastIn;
      if (step < -this.maxBackwardMs || step > this.maxForwardMs) {
        this.offset = this.maxOut + this.gapMs - ts;
        this.discontinuities++;
      }
    }
    this.lastIn = ts;
    const out = Math.max(0, ts + this.offset);
    if (out > this.maxOut) this.maxOut = out;
    return out;
  }
}
