/**
 * One mpegts.js player for one gateway stream, on one <video>. It does the instant start (the
 * gateway writes init + the latest GOP at once: once that burst is buffered, jump to
 * targetLatencyS behind the buffered end, then play), measures time to first frame, counts
 * stalls, runs the live-sync policy, and watches for a broken stream. A standby one (the next
 * or previous channel while another plays) loads paused and sits on a keyframe (standby-spot.ts)
 * until activate() plays it. destroy() releases everything (pause, unload, detach, destroy,
 * listeners, timers).
 */
import type { LiveSync, Timeline } from '../../../common/ipc-contract';
import { latencyBehindLiveS } from '../../../common/latency';
import { LIVE_SYNC_PERIOD_MS, liveSyncDecision } from '../../../common/live-sync';
import { mark } from './marks';
import { bufferAhead, lastRange, playWithMutedFallback, rangeAt } from './media';
import { describePlayerError } from './messages';
import {
  canPlayLiveFlv,
  createLivePlayer,
  destroyLivePlayer,
  type LivePlayer,
  PlayerEvents,
} from './mpegts-player';
import { StallCounter } from './stall-counter';
import { keyframeTimes, standbySpot } from './standby-spot';

export type FailureReason = 'ended' | 'broken';

export interface PlayerMetrics {
  latencyS: number | null;
  bufferS: number;
  stalls: number;
  stallSeconds: number;
  playbackRate: number;
}

export interface ControllerHooks {
  getLiveSync(): LiveSync;
  getTimeline(): Timeline | null;
  onFirstFrame(ttffMs: number): void;
  onFailure(reason: FailureReason, message: string): void;
  onMetrics(m: PlayerMetrics): void;
  onMutedByBrowser(): void;
}

/** Poll while starting (ms); the burst settles when buffered end stops moving between polls. */
const STARTUP_POLL_MS = 10;
/** Jump at the latest this long after the first buffered data, settled or not. */
const MAX_SETTLE_MS = 200;
/** Jump at start only when it skips at least this much; a second jump before the first frame, this. */
const FIRST_JUMP_MIN_S = 0.15;
const REJUMP_MIN_S = 0.4;
/** The buffer's end within this of the burst's last tag counts as the whole burst (frame durations). */
const BURST_SLACK_S = 0.1;
/**
 * A burst longer than the target by at most this share of it is played from its start (no jump).
 * Normal mode's burst starts at the newest keyframe at least the target behind live, so it is
 * up to a GOP longer than the target: a jump into that GOP would make the decoder work through
 * every frame before the jump target (hundreds of ms on a slow machine, before the first frame),
 * while playing from the keyframe shows it at once and live sync's catch-up rate takes the extra
 * latency away without a visible jump. Low-latency mode's target is a fraction of a GOP: it jumps.
 */
const KEEP_BURST_SHARE = 0.6;
/** Targets shorter than this (low latency) keep a burst only within FIRST_JUMP_MIN_S of it. */
const KEEP_BURST_MIN_TARGET_S = 2;
/** After a channel switch, this much of the new channel buffered is enough to show it. */
const SPLICE_READY_S = 0.05;
/** The longest wait for a burst of known size to be buffered before jumping anyway. */
const MAX_BURST_WAIT_MS = 1000;
/** Buffered data this close to live (by the timeline) is the end of the start-up burst. */
const EDGE_LATENCY_S = 0.3;
/** How far live moves while a jump into the start-up GOP is decoded (about; measured 0.1–0.2 s). */
const SEEK_LEAD_S = 0.12;
/** HTMLMediaElement.HAVE_CURRENT_DATA: the picture at the current position is decoded. */
const HAVE_CURRENT_DATA = 2;
/** Live-sync and watchdog period (ms). */
const SYNC_PERIOD_MS = LIVE_SYNC_PERIOD_MS;
/** No first frame after this long: the stream is broken. */
const START_TIMEOUT_MS = 10_000;
/** Playing but currentTime has not moved for this long: the stream is broken. */
const NO_PROGRESS_MS = 5_000;

export interface ControllerOptions {
  /** Load paused, sit on a keyframe, and play only on activate(). */
  standby?: boolean;
}

export class PlayerController {
  private player: LivePlayer | null = null;
  private standby: boolean;
  /** A standby has sought to its spot once and holds a decoded picture there. */
  private standbyPlaced = false;
  /** A standby playing on hidden (setRolling). */
  private rolling = false;
  private destroyed = false;
  private readonly cleanups: (() => void)[] = [];
  private startupTimer: ReturnType<typeof setInterval> | null = null;
  private syncTimer: ReturnType<typeof setInterval> | null = null;
  private firstDataAt: number | null = null;
  private lastEnd = -1;
  private jumpTarget: number | null = null;
  private playRequested = false;
  private firstFrameAt: number | null = null;
  private rvfcArmed = false;
  private stalls = new StallCounter();
  private progressTime = -1;
  private progressAt = 0;
  /** The user went back in time (←): live sync leaves the playhead alone until they go live again. */
  private liveSyncHeld = false;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly url: string,
    /** performance.now() of the click (or open call) that started this, for ttff. */
    private t0: number,
    private readonly hooks: ControllerHooks,
    options: ControllerOptions = {},
  ) {
    this.standby = options.standby === true;
  }

  get hasFirstFrame(): boolean {
    return this.firstFrameAt !== null;
  }

  /** A standby that can be shown at once: a decoded picture at a keyframe, not seeking. */
  get standbyReady(): boolean {
    const v = this.video;
    return (
      this.standby &&
      this.standbyPlaced &&
      !this.destroyed &&
      !v.seeking &&
      v.readyState >= HAVE_CURRENT_DATA &&
      rangeAt(v.buffered, v.currentTime) !== null
    );
  }

  start(): void {
    if (!canPlayLiveFlv()) {
      this.fail('broken', 'This browser cannot play live FLV (no Media Source Extensions).');
      return;
    }
    const player = createLivePlayer(this.url, this.standby);
    this.player = player;
    player.on(PlayerEvents.ERROR, this.onPlayerError);
    player.on(PlayerEvents.LOADING_COMPLETE, this.onLoadingComplete);
    this.listen('playing', this.onPlaying);
    this.listen('waiting', this.onWaiting);
    this.listen('play', this.onPlay);
    this.listen('error', this.onMediaError);
    this.video.playbackRate = 1;
    player.attachMediaElement(this.video);
    mark('load');
    player.load();
    this.progressAt = performance.now();
    // A standby places itself from the sync tick: nothing is waiting for its first frame.
    if (!this.standby) this.startupTimer = setInterval(this.startupCheck, STARTUP_POLL_MS);
    this.syncTimer = setInterval(this.syncTick, SYNC_PERIOD_MS);
  }

  /**
   * A standby is shown now (the user zapped to its channel): it plays from its keyframe, whose
   * picture is already decoded, and live sync takes over. Its time to first frame counts from `t0`.
   */
  activate(t0: number): void {
    if (this.destroyed || !this.standby) return;
    this.standby = false;
    this.t0 = t0;
    // Rolling, the next frame it presents is the first one shown; paused, the one after play().
    this.jumpTarget = this.video.currentTime;
    this.playRequested = true;
    this.progressAt = performance.now();
    this.rolling = false;
    playWithMutedFallback(this.video, () => this.destroyed || this.hooks.onMutedByBrowser());
    this.armFirstFrame();
  }

  /**
   * A standby rolls (plays on, hidden and muted, with live sync: a zap to it shows its next
   * frame) or sits paused on a keyframe (a zap starts it from there). The next channel's rolls.
   */
  setRolling(on: boolean): void {
    if (this.destroyed || !this.standby || this.rolling === on) return;
    this.rolling = on;
    if (!on) this.video.pause();
    else this.syncTick();
  }

  /** Standby: seek to the keyframe to sit on when a newer one qualifies (one picture decoded). */
  private placeStandby(): void {
    const v = this.video;
    const r = lastRange(v.buffered);
    if (!r || v.seeking) return;
    if (this.rolling && this.standbyPlaced) {
      // Placed once; now it plays on, kept near live by live sync.
      if (v.paused && v.readyState >= HAVE_CURRENT_DATA) v.play().catch(() => {});
      else if (!v.paused)
        this.applyLiveSync(
          latencyBehindLiveS(this.hooks.getTimeline(), v.currentTime, Date.now()),
          bufferAhead(v),
        );
      return;
    }
    const timeline = this.hooks.getTimeline();
    const spot = standbySpot({
      start: r.start,
      end: r.end,
      currentTime: v.currentTime,
      keyframesS: timeline ? keyframeTimes(timeline.keyframes, timeline.firstTs) : [],
      targetS: this.hooks.getLiveSync().targetLatencyS,
    });
    if (spot !== null) v.currentTime = spot;
    this.standbyPlaced = true;
  }

  /** Full teardown; safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.startupTimer) clearInterval(this.startupTimer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    // Our listeners go first: detaching sets src='' and fires 'error'/'emptied' on the element.
    for (const off of this.cleanups.splice(0)) off();
    const player = this.player;
    this.player = null;
    if (!player) return;
    player.off(PlayerEvents.ERROR, this.onPlayerError);
    player.off(PlayerEvents.LOADING_COMPLETE, this.onLoadingComplete);
    destroyLivePlayer(player);
    this.video.playbackRate = 1;
  }

  /**
   * The core switched this stream to another channel, whose data follows the old one's from
   * media time `atS`: once it is buffered, show it (a seek inside the buffer, no new
   * MediaSource) and measure the time to its first frame from `t0`.
   */
  spliceAt(atS: number, t0: number): void {
    if (this.destroyed) return;
    this.t0 = t0;
    this.firstFrameAt = null;
    this.jumpTarget = atS;
    // Stalls are counted per channel: the new one starts with none.
    this.stalls = new StallCounter();
    this.progressAt = performance.now();
    if (this.startupTimer) clearInterval(this.startupTimer);
    const started = performance.now();
    this.startupTimer = setInterval(() => {
      if (this.destroyed || this.firstFrameAt !== null) return;
      const r = lastRange(this.video.buffered);
      if (!r || r.end < atS + SPLICE_READY_S) {
        if (performance.now() - started > START_TIMEOUT_MS)
          this.fail('broken', 'The next channel did not start.');
        return;
      }
      if (this.startupTimer) clearInterval(this.startupTimer);
      this.startupTimer = null;
      this.video.currentTime = Math.max(r.start, atS + 0.01);
      mark('jump');
      if (this.video.paused)
        playWithMutedFallback(this.video, () => this.destroyed || this.hooks.onMutedByBrowser());
      this.armFirstFrame();
    }, STARTUP_POLL_MS);
  }

  /**
   * A warm player (started hidden ahead of the click) is shown now: the time to first frame
   * counts from `t0` to the first frame painted after this (after the page's next render, which
   * takes the idle screen away), or to its first frame when it has none yet.
   */
  reveal(t0: number): void {
    if (this.destroyed) return;
    this.t0 = t0;
    this.progressAt = performance.now();
    if (this.firstFrameAt === null) return;
    const v = this.video;
    const report = () => {
      if (!this.destroyed) this.hooks.onFirstFrame(Math.max(0, performance.now() - this.t0));
    };
    requestAnimationFrame(() => {
      if (typeof v.requestVideoFrameCallback === 'function' && !v.paused) v.requestVideoFrameCallback(report);
      else report();
    });
  }

  /** Runs live sync now (e.g. right after the user resumes from pause). */
  syncNow(): void {
    this.syncTick();
  }

  /**
   * Held: the user chose to watch behind live (sought back), so no catch-up speed and no jump
   * forward until released (jump to live). The badge shows how far behind meanwhile.
   */
  holdLiveSync(held: boolean): void {
    this.liveSyncHeld = held;
    if (held && this.video.playbackRate !== 1) this.video.playbackRate = 1;
  }

  private listen<K extends keyof HTMLMediaElementEventMap>(type: K, fn: () => void): void {
    this.video.addEventListener(type, fn);
    this.cleanups.push(() => this.video.removeEventListener(type, fn));
  }

  private fail(reason: FailureReason, message: string): void {
    if (this.destroyed) return;
    this.hooks.onFailure(reason, message);
  }

  // ── start-up: wait for the GOP burst, jump behind its end, play ──────────────────────────

  private readonly startupCheck = (): void => {
    if (this.destroyed || this.firstFrameAt !== null) return;
    const r = lastRange(this.video.buffered);
    if (!r) return;
    const now = performance.now();
    if (this.firstDataAt === null) {
      this.firstDataAt = now;
      mark('first-data');
    }
    const timeline = this.hooks.getTimeline();
    const target = this.hooks.getLiveSync().targetLatencyS;
    const ct = this.video.currentTime;
    if (timeline?.burstEndTs != null) {
      // The core says where its start-up burst ends: once the buffer holds it, one jump to the
      // target behind its end (skipped when it gains too little), then play. No guessing.
      // Compared as durations: the player's time zero need not be the burst's first tag.
      const burstS = (timeline.burstEndTs - timeline.firstTs) / 1000;
      const gain = burstS - target;
      // The first tags may start a little after time zero: begin where the data begins, now,
      // before the pipeline prerolls (Chromium does not play across even a 20 ms gap at the
      // start, and mpegts.js's own fix waits for a 'progress' event, then seeks mid-preroll).
      if (this.jumpTarget === null && ct < r.start) this.video.currentTime = r.start;
      const keep = target >= KEEP_BURST_MIN_TARGET_S ? KEEP_BURST_SHARE * target : 0;
      if (gain <= Math.max(FIRST_JUMP_MIN_S, keep)) {
        // The burst is about the target long (normal mode: its first GOP sits at the target
        // latency): play from its first frame as it arrives, no seek, no wait for the rest.
        this.jumpTarget ??= Math.max(ct, r.start);
      } else {
        // Far more than the target (low latency: a GOP before a 0.4 s target): wait for the
        // whole burst and for the pipeline to have decoded its first picture (prerolled where
        // the data begins, paused), then one jump to the target behind its end. Jumping before
        // the decoder is up would let live run on for as long as it takes to start.
        const complete = r.end - r.start >= burstS - BURST_SLACK_S;
        const prerolled = this.video.readyState >= HAVE_CURRENT_DATA;
        if ((!complete || !prerolled) && now - this.firstDataAt < MAX_BURST_WAIT_MS) return;
        // Aimed SEEK_LEAD_S nearer the edge: live runs on while the decoder works its way from
        // the keyframe to the jump target, so the first frame shown sits at about the target.
        const want = Math.max(r.start, r.end - Math.max(target - SEEK_LEAD_S, target / 2));
        // Once, and again before the first frame if decoding the first jump let live run ahead
        // by more than REJUMP_MIN_S (a slow machine): the first frame shown is near the target.
        const minGain = this.jumpTarget === null ? FIRST_JUMP_MIN_S : REJUMP_MIN_S;
        const from = this.jumpTarget ?? ct;
        if (ct < r.start || want - from > minGain) {
          this.jumpTarget = want;
          this.video.currentTime = want;
          mark('jump');
        } else {
          this.jumpTarget ??= ct;
        }
      }
    } else {
      // No word from the core yet (its timeline races the stream's first bytes), or an older
      // core: the burst is in when the timeline says it is at the live edge, when the buffered
      // end stops moving, or after MAX_SETTLE_MS.
      const endLatency = latencyBehindLiveS(timeline, r.end, Date.now());
      const atEdge = endLatency !== null && endLatency < EDGE_LATENCY_S;
      const still = timeline !== null && r.end === this.lastEnd;
      const settled = atEdge || still || now - this.firstDataAt >= MAX_SETTLE_MS;
      this.lastEnd = r.end;
      if (!settled) return;
      const want = Math.max(r.start, r.end - target);
      // During a seek currentTime already reads the target, so a pending jump is not repeated; a
      // second jump (more of the burst came in) restarts decoding, so it must be worth it.
      const minGain = this.jumpTarget === null ? FIRST_JUMP_MIN_S : REJUMP_MIN_S;
      if (ct < r.start || want - ct > minGain) {
        this.jumpTarget = want;
        this.video.currentTime = want;
        mark('jump');
      }
    }
    if (!this.playRequested) {
      this.playRequested = true;
      playWithMutedFallback(this.video, () => this.destroyed || this.hooks.onMutedByBrowser());
    }
  };

  private readonly onPlaying = (): void => {
    this.stalls.end(performance.now());
    if (this.firstFrameAt !== null || this.standby) return;
    mark('playing');
    this.armFirstFrame();
  };

  /** ttff = first requestVideoFrameCallback after 'playing' that shows the jump target. */
  private armFirstFrame(): void {
    if (this.rvfcArmed || this.destroyed) return;
    const v = this.video;
    if (typeof v.requestVideoFrameCallback !== 'function') {
      this.firstFrame();
      return;
    }
    this.rvfcArmed = true;
    v.requestVideoFrameCallback((_now, meta) => {
      this.rvfcArmed = false;
      if (this.destroyed || this.firstFrameAt !== null || this.standby) return;
      const onTarget = this.jumpTarget === null || meta.mediaTime >= this.jumpTarget - 0.1;
      if (onTarget && !v.paused && !v.seeking) this.firstFrame();
      else this.armFirstFrame();
    });
  }

  private firstFrame(): void {
    const now = performance.now();
    mark('first-frame');
    // Measure now, so latency and buffer at the first frame are in the store with the ttff.
    this.syncTick();
    this.firstFrameAt = now;
    this.progressAt = now;
    this.progressTime = this.video.currentTime;
    if (this.startupTimer) clearInterval(this.startupTimer);
    this.startupTimer = null;
    this.hooks.onFirstFrame(Math.max(0, now - this.t0));
  }

  // ── afterwards: stalls, live sync, watchdog ──────────────────────────────────────────────

  private readonly onWaiting = (): void => {
    if (this.firstFrameAt !== null && !this.video.seeking) this.stalls.begin(performance.now());
  };

  private readonly onPlay = (): void => {
    // Resumed after a pause: the watchdog restarts, and live sync may jump back to the edge.
    this.progressAt = performance.now();
    if (this.firstFrameAt !== null) queueMicrotask(() => this.syncTick());
  };

  private readonly syncTick = (): void => {
    if (this.destroyed) return;
    const v = this.video;
    const now = performance.now();
    if (this.standby) {
      if (v.buffered.length > 0) this.progressAt = now;
      else if (now - this.progressAt > START_TIMEOUT_MS)
        this.fail('broken', 'The stream did not start: no data after 10 s.');
      this.placeStandby();
      return;
    }
    const latencyS = latencyBehindLiveS(this.hooks.getTimeline(), v.currentTime, Date.now());
    const bufferS = bufferAhead(v);

    if (this.firstFrameAt === null) {
      if (now - this.progressAt > START_TIMEOUT_MS) {
        this.fail('broken', 'The stream did not start: no picture after 10 s.');
        return;
      }
    } else if (!v.paused && !v.seeking) {
      if (Math.abs(v.currentTime - this.progressTime) > 0.01) {
        this.progressTime = v.currentTime;
        this.progressAt = now;
      } else if (now - this.progressAt > NO_PROGRESS_MS) {
        this.fail('broken', 'The stream stopped: no new picture for 5 s.');
        return;
      }
      if (!this.liveSyncHeld) this.applyLiveSync(latencyS, bufferS);
    } else {
      this.progressAt = now;
    }

    this.hooks.onMetrics({
      latencyS,
      bufferS,
      stalls: this.stalls.count,
      stallSeconds: this.stalls.secondsAt(now),
      playbackRate: v.playbackRate,
    });
  };

  private applyLiveSync(latencyS: number | null, bufferS: number): void {
    const v = this.video;
    const d = liveSyncDecision({
      latencyS,
      bufferAheadS: bufferS,
      currentTime: v.currentTime,
      currentRate: v.playbackRate,
      settings: this.hooks.getLiveSync(),
    });
    if (d.seekTo !== undefined) {
      const r = rangeAt(v.buffered, v.currentTime);
      // Stay inside the data we hold: a seek outside it would make mpegts.js re-request the stream.
      if (r && d.seekTo < r.end - 0.05 && d.seekTo > v.currentTime) v.currentTime = d.seekTo;
    }
    if (v.playbackRate !== d.rate) v.playbackRate = d.rate;
  }

  // ── failures ─────────────────────────────────────────────────────────────────────────────

  private readonly onPlayerError = (type: unknown, detail: unknown, info: unknown): void => {
    this.fail('broken', describePlayerError(type, detail, info));
  };

  private readonly onLoadingComplete = (): void => {
    this.fail('ended', 'The stream ended.');
  };

  private readonly onMediaError = (): void => {
    const err = this.video.error;
    this.fail('broken', `The video could not be decoded${err?.message ? ` (${err.message})` : ''}.`);
  };
}
