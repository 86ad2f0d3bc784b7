/**
 * The playback session: which channel the user selected, the core session behind it
 * ('player.open' / 'player.close'), the one PlayerController playing it, and automatic
 * recovery. On offline / unreachable / broken it tears the player down, tells the user why,
 * and retries 'player.open' with backoff (1 s, 2 s, 4 s … 10 s) while the channel stays
 * selected. Reports the player's measurements to the core every second. A hovered channel's
 * player started ahead of the click (warm-player.ts) becomes the session on the click; what the
 * user does to picture and sound is in user-controls.ts.
 */
import type { EventPayload, LatencyMode, Timeline } from '../../../common/ipc-contract';
import { getApi, getClient } from '../api';
import { classifyFailure, errorText } from '../api/errors';
import { neighbour, usePrejoinStore } from '../channels/zapping';
import { type Failure, freshMeasurements, usePlayerStore } from '../stores/player-store';
import { useSettingsStore } from '../stores/settings-store';
import { clearHistory, pushHistory } from '../stores/stats-store';
import { mark } from './marks';
import { type FailureReason, PlayerController } from './player-controller';
import { playerReport } from './report';
import * as controls from './user-controls';
import { mirrorVideoState } from './video-mirror';
import { WarmPlayer, type WarmTaken } from './warm-player';

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 10_000;
/** Playing this long without trouble resets the retry backoff. */
const STEADY_MS = 5_000;
const TICK_MS = 500;
/** Behind live by at most live sync's speed-up threshold plus this still counts as live. */
const LIVE_SLACK_S = 1;

type Status = EventPayload<'session.status'>;

class PlaybackSession {
  private video: HTMLVideoElement | null = null;
  private detachVideoListeners: (() => void) | null = null;
  private controller: PlayerController | null = null;
  private channel: string | null = null;
  /** This channel's own latency mode (Go live's preview), kept through retries. */
  private latencyMode: LatencyMode | null = null;
  private sessionId: string | null = null;
  private gen = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryDelayMs = RETRY_MIN_MS;
  private firstFrameAt: number | null = null;
  private tickCount = 0;
  private readonly timelines = new Map<string, Timeline>();
  /** Statuses that arrived before 'player.open' answered with their session id. */
  private readonly earlyStatus = new Map<string, Status>();
  /** A player started ahead of the click on a hovered channel (warm-player.ts), hidden and muted. */
  private readonly warm = new WarmPlayer({
    startController: (video, sessionId, streamUrl) => {
      const controller = this.newController(video, sessionId, streamUrl, performance.now());
      controller.start();
      return controller;
    },
    release: (controller, sessionId) => this.release({ controller, sessionId }),
  });

  constructor() {
    setInterval(this.tick, TICK_MS);
    // A channel the pointer rests on (zapping.ts, after its hover delay) is started ahead of the click.
    usePrejoinStore.subscribe((s, prev) => {
      if (s.hovered !== prev.hovered) this.prestart(s.hovered);
    });
  }

  get videoElement(): HTMLVideoElement | null {
    return this.video;
  }

  /** The channel whose player was started ahead of the click (hovered while idle), if any. */
  get warmChannel(): string | null {
    return this.warm.channel;
  }

  attachVideo(video: HTMLVideoElement | null): void {
    if (video === this.video) return;
    if (this.video) this.stop();
    this.detachVideoListeners?.();
    this.detachVideoListeners = null;
    this.video = video;
    if (!video) return;
    const s = usePlayerStore.getState();
    video.muted = s.muted;
    video.volume = s.volume;
    this.detachVideoListeners = mirrorVideoState(
      video,
      () => this.warm.channel !== null && this.controller === null,
    );
  }

  /**
   * Starts (or switches to) a channel. `t0` is performance.now() of the user's click;
   * `latencyMode` plays this channel only in that mode (a streamer previewing their own).
   */
  play(channel: string, t0 = performance.now(), latencyMode: LatencyMode | null = null): void {
    const warm = latencyMode === null ? this.warm.take(channel) : null;
    if (warm) {
      this.commitWarm(warm, t0);
      return;
    }
    this.cancelPrestart();
    const old = this.detach();
    this.clearRetry();
    const gen = ++this.gen;
    this.channel = channel;
    this.latencyMode = latencyMode;
    this.retryDelayMs = RETRY_MIN_MS;
    this.earlyStatus.clear();
    // Ask the core first: its answer travels while the old player is torn down and React renders.
    void this.open(gen, t0);
    this.release(old);
    clearHistory();
    usePlayerStore.setState({
      ...freshMeasurements,
      channel,
      lastChannel: channel,
      latencyMode,
      phase: 'opening',
      message: null,
      failure: null,
      retryAt: null,
    });
  }

  /**
   * The pointer rests on a channel while nothing plays: start its player now, hidden behind the
   * idle screen and muted, on the channel as pre-joined (no peers, no upload), so that a click
   * shows it at once (play() commits it). Another channel, or none, cancels it.
   */
  prestart(channel: string | null): void {
    if (channel === null || this.channel !== null || this.controller || !this.video) this.warm.cancel();
    else this.warm.start(channel, this.video);
  }

  /** Drops the warm player, if any (the pointer left, or another channel is opened). */
  cancelPrestart(): void {
    this.warm.cancel();
  }

  /** The click on the channel the warm player plays: it becomes the session, shown and with sound. */
  private commitWarm(warm: WarmTaken, t0: number): void {
    const { sessionId, controller } = warm;
    this.clearRetry();
    this.gen++;
    this.channel = warm.channel;
    this.latencyMode = null;
    this.retryDelayMs = RETRY_MIN_MS;
    this.earlyStatus.clear();
    this.sessionId = sessionId;
    this.controller = controller;
    this.firstFrameAt = null;
    getApi()
      .invoke('player.commit', { sessionId })
      .catch(() => {});
    clearHistory();
    if (this.video) this.video.muted = warm.muted;
    usePlayerStore.setState({
      ...freshMeasurements,
      sessionId,
      channel: warm.channel,
      lastChannel: warm.channel,
      latencyMode: null,
      phase: controller.hasFirstFrame ? 'playing' : 'opening',
      message: null,
      failure: null,
      retryAt: null,
    });
    // Shown now: the time to first frame is to the next frame painted without the idle screen.
    controller.reveal(t0);
  }

  /** Play again what played before Stop (the Play button with nothing playing). */
  replay(t0 = performance.now()): void {
    const s = usePlayerStore.getState();
    if (s.channel === null && s.lastChannel !== null) this.play(s.lastChannel, t0, s.latencyMode);
  }

  /**
   * Next (+1) or previous (-1) live channel in the list. The old session is closed at once
   * and the same <video> plays the new one, whose data the core has kept warm.
   */
  zap(step: 1 | -1, t0 = performance.now()): void {
    const next = neighbour(this.channel, step);
    if (next === null || next === this.channel) return;
    // A streamer's low-latency preview is of one channel only: its neighbours play normally.
    if (this.latencyMode !== null) {
      this.play(next, t0);
      return;
    }
    const controller = this.controller;
    const id = this.sessionId;
    if (controller?.hasFirstFrame && id !== null && usePlayerStore.getState().phase === 'playing') {
      void this.splice(next, id, controller, t0);
    } else {
      this.play(next, t0);
    }
  }

  /**
   * Switch on the same player: the core feeds the session's stream from the next channel when
   * the codecs allow (the old picture stays until the new one shows); otherwise a new session.
   */
  private async splice(next: string, id: string, controller: PlayerController, t0: number): Promise<void> {
    const gen = ++this.gen;
    this.clearRetry();
    this.channel = next;
    let answer: { spliced: boolean; switchAtS: number | null };
    try {
      answer = await getApi().invoke('player.switch', { sessionId: id, channel: next });
    } catch {
      answer = { spliced: false, switchAtS: null };
    }
    if (gen !== this.gen) return;
    if (!answer.spliced || answer.switchAtS === null || this.controller !== controller) {
      this.play(next, t0);
      return;
    }
    // Until the new channel's timeline comes: no anchors (no latency figure) but the same
    // live-sync thresholds, or live sync would apply the low-latency defaults to a 4 s buffer.
    const old = this.timelines.get(id);
    if (old) this.timelines.set(id, { ...old, anchors: [], burstEndTs: null });
    this.firstFrameAt = null;
    this.retryDelayMs = RETRY_MIN_MS;
    clearHistory();
    usePlayerStore.setState({
      ...freshMeasurements,
      channel: next,
      lastChannel: next,
      sessionId: id,
      phase: 'opening',
      message: null,
      failure: null,
    });
    controller.spliceAt(answer.switchAtS, t0);
  }

  /** Stops playback and forgets the channel (no retries). */
  stop(): void {
    this.gen++;
    this.cancelPrestart();
    this.teardown();
    this.clearRetry();
    this.channel = null;
    usePlayerStore.setState({
      ...freshMeasurements,
      channel: null,
      phase: 'idle',
      message: null,
      failure: null,
      retryAt: null,
    });
  }

  /** Retry now instead of waiting out the countdown (the "Try now" button). */
  retryNow(): void {
    if (!this.channel || !this.retryTimer) return;
    this.clearRetry();
    usePlayerStore.setState({ retryAt: null });
    void this.open(this.gen, performance.now());
  }

  handleStatus(status: Status): void {
    if (status.sessionId !== this.sessionId) {
      if (this.sessionId === null && status.channel === this.channel) {
        this.earlyStatus.set(status.sessionId, status);
      }
      return;
    }
    usePlayerStore.setState({ coreState: status.state });
    this.applyStatus(status);
  }

  handleTimeline(timeline: Timeline): void {
    if (timeline.sessionId === this.sessionId || this.sessionId === null) {
      this.timelines.set(timeline.sessionId, timeline);
      if (this.timelines.size > 8) {
        const oldest = this.timelines.keys().next().value;
        if (oldest !== undefined && oldest !== this.sessionId) this.timelines.delete(oldest);
      }
    }
  }

  /** The link to the core came back: retry now instead of waiting out the backoff. */
  handleReconnect(): void {
    const phase = usePlayerStore.getState().phase;
    if (this.channel && this.retryTimer && phase === 'unreachable') {
      this.clearRetry();
      void this.open(this.gen, performance.now());
    }
  }

  setMuted(muted: boolean): void {
    controls.setMuted(this.video, muted);
  }

  /** ↑ / ↓: volume in steps; turning it up unmutes. */
  volumeBy(delta: number): void {
    controls.volumeBy(this.video, delta);
  }

  /** ← / →: move within what is buffered. */
  seekBy(seconds: number): void {
    controls.seekBy(this.video, this.controller, this.liveSync(), seconds);
  }

  /** Back to the live edge: the target latency behind the newest data, playing. */
  jumpToLive(): void {
    controls.jumpToLive(this.video, this.controller, this.liveSync());
  }

  private liveSync() {
    const id = this.sessionId;
    return (id && this.timelines.get(id)?.liveSync) || useSettingsStore.getState().settings.liveSync;
  }

  setVolume(volume: number): void {
    controls.setVolume(this.video, volume);
  }

  togglePause(): void {
    const v = this.video;
    if (!this.controller) {
      this.replay();
      return;
    }
    if (!v) return;
    if (v.paused) {
      v.play().catch(() => {});
      this.controller.syncNow();
    } else {
      v.pause();
    }
  }

  /** The core's message is a sentence for the user; ours stands in when it sends none. */
  private applyStatus(status: Status): void {
    const { state, message } = status;
    if (state === 'offline' || state === 'unreachable' || state === 'error') {
      this.fail(state, message);
    } else if (state === 'closed') {
      this.fail('error', message ?? 'The core closed the session.');
    }
  }

  private async open(gen: number, t0: number): Promise<void> {
    const channel = this.channel;
    if (!channel) return;
    let res: { sessionId: string; streamUrl: string };
    mark('open');
    try {
      const mode = this.latencyMode;
      res = await getApi().invoke('player.open', mode ? { channel, latencyMode: mode } : { channel });
    } catch (err) {
      if (gen !== this.gen) return;
      this.fail(classifyFailure(err), errorText(err));
      return;
    }
    if (gen !== this.gen) {
      getApi()
        .invoke('player.close', { sessionId: res.sessionId })
        .catch(() => {});
      return;
    }
    this.sessionId = res.sessionId;
    usePlayerStore.setState({ sessionId: res.sessionId });
    const early = this.earlyStatus.get(res.sessionId);
    this.earlyStatus.clear();
    if (early) {
      usePlayerStore.setState({ coreState: early.state });
      this.applyStatus(early);
      if (gen !== this.gen || this.sessionId !== res.sessionId) return;
    }
    const video = this.video;
    if (!video) {
      this.fail('error', 'No video element to play in.');
      return;
    }
    video.muted = usePlayerStore.getState().muted;
    video.volume = usePlayerStore.getState().volume;
    const controller = this.newController(video, res.sessionId, res.streamUrl, t0);
    this.controller = controller;
    this.firstFrameAt = null;
    controller.start();
  }

  /** A controller whose events count while it is the session's (a warm one's only once committed). */
  private newController(video: HTMLVideoElement, sessionId: string, streamUrl: string, t0: number) {
    const controller: PlayerController = new PlayerController(video, streamUrl, t0, {
      // The core sends the thresholds in force for this session (latency mode, peers); until then, settings.
      getLiveSync: () =>
        this.timelines.get(sessionId)?.liveSync ?? useSettingsStore.getState().settings.liveSync,
      getTimeline: () => this.timelines.get(sessionId) ?? null,
      onFirstFrame: (ttffMs) => {
        if (this.controller !== controller) return;
        this.firstFrameAt = performance.now();
        usePlayerStore.setState({ phase: 'playing', ttffMs, message: null, retryAt: null });
      },
      onFailure: (reason, message) => {
        // A warm player that fails is dropped quietly: the click opens the channel as usual.
        if (this.warm.owns(controller)) this.warm.cancel();
        if (this.controller !== controller) return;
        this.onPlayerFailure(reason, message);
      },
      onMetrics: (m) => {
        if (this.controller === controller) usePlayerStore.setState(m);
      },
      // The platform refused sound without a gesture: muted for now, the preference is kept.
      onMutedByBrowser: () => {
        if (this.controller === controller) usePlayerStore.setState({ muted: true });
      },
    });
    return controller;
  }

  private onPlayerFailure(reason: FailureReason, message: string): void {
    // The stream dies with the core: say so, rather than blaming the stream.
    if (!getClient().isConnected()) this.fail('unreachable', message);
    else if (reason === 'ended') this.fail('offline', message);
    else this.fail('error', message);
  }

  /** Tears down, shows why (kind for the plain words, detail behind "details"), and schedules the next 'player.open'. */
  private fail(kind: 'offline' | 'unreachable' | 'error', detail: string | null): void {
    const channel = this.channel;
    if (!channel) return;
    this.teardown();
    this.clearRetry();
    const gen = this.gen;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
    const failure: Failure = kind === 'unreachable' && !getClient().isConnected() ? 'core' : kind;
    usePlayerStore.setState({
      phase: kind,
      message: detail,
      failure,
      atLive: false,
      retryAt: Date.now() + delay,
      sessionId: null,
      latencyS: null,
      bufferS: 0,
      playbackRate: 1,
      waiting: false,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (gen !== this.gen) return;
      usePlayerStore.setState({ retryAt: null });
      void this.open(gen, performance.now());
    }, delay);
  }

  private teardown(): void {
    this.release(this.detach());
  }

  /** Forgets the current player and core session (so nothing routes to them), without closing them yet. */
  private detach(): { controller: PlayerController | null; sessionId: string | null } {
    const old = { controller: this.controller, sessionId: this.sessionId };
    this.controller = null;
    this.sessionId = null;
    this.firstFrameAt = null;
    return old;
  }

  /** Destroys a detached player and closes its core session. */
  private release(old: { controller: PlayerController | null; sessionId: string | null }): void {
    old.controller?.destroy();
    const id = old.sessionId;
    if (id) {
      this.timelines.delete(id);
      getApi()
        .invoke('player.close', { sessionId: id })
        .catch(() => {});
    }
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private readonly tick = (): void => {
    this.tickCount++;
    const s = usePlayerStore.getState();
    if (!this.controller || !this.sessionId || s.phase !== 'playing') return;
    const now = performance.now();
    // The LIVE badge tells the truth: live only while playing within live sync's reach of the edge.
    const atLive =
      !s.paused && s.latencyS !== null && s.latencyS <= this.liveSync().speedUpAboveS + LIVE_SLACK_S;
    if (atLive !== s.atLive) usePlayerStore.setState({ atLive });
    if (this.firstFrameAt !== null && now - this.firstFrameAt > STEADY_MS) this.retryDelayMs = RETRY_MIN_MS;
    pushHistory(Date.now(), s.latencyS, s.bufferS);
    if (this.tickCount % 2 !== 0 || s.paused) return;
    getApi()
      .invoke('player.report', playerReport(this.sessionId, s))
      .catch(() => {});
  };
}

export const playbackSession = new PlaybackSession();
