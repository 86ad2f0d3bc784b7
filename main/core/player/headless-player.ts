/**
 * A player without a decoder, for `swarmcast peer`: it reads its gateway stream over real
 * HTTP and moves a virtual playhead through the received media at real time, exactly as a
 * video element would (start behind the buffered end, speed up or seek to hold latency,
 * stall when the buffer runs dry), so swarm tests and benchmarks measure what a viewer sees.
 */
import { get } from 'node:http';
import { FlvDemuxer, isMediaFrame } from '../../../common/flv';
import { everyBeat } from '../../../common/heartbeat';
import type { LiveSync } from '../../../common/ipc-contract';
import { type Anchor, latencyBehindLiveS } from '../../../common/latency';
import { LIVE_SYNC_PERIOD_MS, liveSyncDecision } from '../../../common/live-sync';

export interface TimelineSource {
  firstTs: number | null;
  anchors(): readonly Anchor[];
  clockOffsetMs: number;
}

export interface HeadlessPlayerStats {
  ttffMs: number | null;
  latencyS: number | null;
  bufferS: number;
  stalls: number;
  stallSeconds: number;
  bytes: number;
  playing: boolean;
}

/** Buffer (s) needed before playback resumes after a stall. */
const REBUFFER_S = 0.3;

export class HeadlessPlayer {
  private readonly abort = new AbortController();
  private readonly startedAt = Date.now();
  private firstFrameAt: number | null = null;
  /** Playhead and buffered end as FLV timestamps (ms). */
  private playheadTs: number | null = null;
  private bufferedEndTs: number | null = null;
  private rate = 1;
  private stalled = false;
  private stallStartedAt = 0;
  private stalls = 0;
  private stallMs = 0;
  private bytes = 0;
  private lastTick = Date.now();
  private readonly stopTick: () => void;
  done: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly timeline: () => TimelineSource | null,
    private readonly liveSync: () => LiveSync,
  ) {
    // Live sync decides every LIVE_SYNC_PERIOD_MS, as the renderer's player does; the playhead
    // moves then and whenever data arrives (advance), so a stall is timed to the moment the
    // buffer ran dry whatever the period.
    this.stopTick = everyBeat(LIVE_SYNC_PERIOD_MS, () => this.tick());
    this.done = this.read().catch(() => undefined);
  }

  /** Reads the gateway stream over node:http (lighter than fetch's web streams per chunk). */
  private read(): Promise<void> {
    // Types and timestamps are all it needs: the bodies are skipped, not copied.
    const demuxer = new FlvDemuxer({ bodyPrefix: 2 });
    return new Promise((resolve, reject) => {
      const req = get(this.url, { signal: this.abort.signal }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`gateway answered ${res.statusCode}`));
        }
        res.on('data', (chunk: Buffer) => {
          this.bytes += chunk.length;
          // Up to now the playhead played what was buffered before this chunk.
          const now = Date.now();
          this.advance(now);
          try {
            for (const tag of demuxer.push(chunk)) {
              if (!isMediaFrame(tag)) continue;
              if (this.bufferedEndTs === null || tag.timestamp > this.bufferedEndTs)
                this.bufferedEndTs = tag.timestamp;
            }
          } catch (err) {
            req.destroy(err as Error);
            return;
          }
          if (this.playheadTs === null && this.bufferedEndTs !== null) this.firstFrame();
          else this.resumeIfBuffered(now);
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  /** The first GOP is in: jump to just behind its end, as the renderer does. */
  private firstFrame(): void {
    const tl = this.timeline();
    const start = tl?.firstTs ?? this.bufferedEndTs!;
    const target = this.liveSync().targetLatencyS * 1000;
    this.playheadTs = Math.max(start, this.bufferedEndTs! - target);
    this.firstFrameAt = Date.now();
    this.lastTick = Date.now();
  }

  /** Media time of the playhead as a video element would report it (seconds since the first tag). */
  private currentTime(tl: TimelineSource | null): number | null {
    const first = tl?.firstTs ?? null;
    return first === null || this.playheadTs === null ? null : (this.playheadTs - first) / 1000;
  }

  private latencyS(tl: TimelineSource | null, now: number): number | null {
    const t = this.currentTime(tl);
    if (!tl || tl.firstTs === null || t === null) return null;
    return latencyBehindLiveS(
      { anchors: tl.anchors(), firstTs: tl.firstTs, clockOffsetMs: tl.clockOffsetMs },
      t,
      now,
    );
  }

  /**
   * Plays from the last advance to `now` at the current rate. When the buffered media ran out on
   * the way, the stall starts at the instant it did (not at the next beat).
   */
  private advance(now: number): void {
    const dt = now - this.lastTick;
    this.lastTick = now;
    if (this.stalled || this.playheadTs === null || this.bufferedEndTs === null) return;
    const room = this.bufferedEndTs - this.playheadTs;
    const step = dt * this.rate;
    if (step < room) {
      this.playheadTs += step;
      return;
    }
    this.playheadTs = this.bufferedEndTs;
    this.stalled = true;
    this.stalls++;
    const over = step - Math.max(0, room);
    this.stallStartedAt = this.rate > 0 ? now - over / this.rate : now;
  }

  /** A stalled player resumes once REBUFFER_S of media is buffered. */
  private resumeIfBuffered(now: number): void {
    if (!this.stalled || this.playheadTs === null || this.bufferedEndTs === null) return;
    if (this.bufferedEndTs - this.playheadTs < REBUFFER_S * 1000) return;
    this.stalled = false;
    this.stallMs += now - this.stallStartedAt;
  }

  /**
   * Every LIVE_SYNC_PERIOD_MS: moves the playhead, holds the start-up jump, and decides live
   * sync; reads the timeline and the settings (each read looks the session up in the core)
   * only to decide.
   */
  private tick(): void {
    const now = Date.now();
    this.advance(now);
    if (this.playheadTs === null || this.bufferedEndTs === null) return;
    const bufferMs = this.bufferedEndTs - this.playheadTs;
    // The first GOP may come in several reads: keep jumping to the target while it arrives.
    if (this.firstFrameAt !== null && now - this.firstFrameAt < 1000) {
      const targetMs = this.liveSync().targetLatencyS * 1000;
      const latency = this.latencyS(this.timeline(), now);
      const excess = latency !== null ? latency * 1000 - targetMs : bufferMs - targetMs;
      const room = bufferMs - 400;
      if (excess > 250 && room > 0) {
        this.playheadTs += Math.min(excess, room);
        return;
      }
    }
    if (this.stalled) {
      this.resumeIfBuffered(now);
      return;
    }
    const tl = this.timeline();
    const current = this.currentTime(tl);
    if (current === null) return;
    const d = liveSyncDecision({
      latencyS: this.latencyS(tl, now),
      bufferAheadS: (this.bufferedEndTs - this.playheadTs) / 1000,
      currentTime: current,
      currentRate: this.rate,
      settings: this.liveSync(),
    });
    this.rate = d.rate;
    if (d.seekTo !== undefined)
      this.playheadTs = Math.min(this.bufferedEndTs, this.playheadTs + (d.seekTo - current) * 1000);
  }

  stats(): HeadlessPlayerStats {
    const now = Date.now();
    this.advance(now);
    const stalling = this.stalled ? now - this.stallStartedAt : 0;
    return {
      ttffMs: this.firstFrameAt === null ? null : this.firstFrameAt - this.startedAt,
      latencyS: this.latencyS(this.timeline(), now),
      bufferS:
        this.playheadTs === null || this.bufferedEndTs === null
          ? 0
          : (this.bufferedEndTs - this.playheadTs) / 1000,
      stalls: this.stalls,
      stallSeconds: (this.stallMs + stalling) / 1000,
      bytes: this.bytes,
      playing: this.playheadTs !== null && !this.stalled,
    };
  }

  stop(): void {
    this.stopTick();
    this.abort.abort();
  }
}
