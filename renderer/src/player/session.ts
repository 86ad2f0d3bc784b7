/**
 * The playback session: which channel the user selected, the core session behind it
 * ('player.open' / 'player.close'), the one PlayerController playing it, and automatic
 * recovery. On offline / unreachable / broken it tears the player down, tells the user why,
 * and retries 'player.open' with backoff (1 s, 2 s, 4 s … 10 s) while the channel stays
 * selected. Reports the player's measurements to the core every second. A hovered channel's
 * player started ahead of the click (warm-player.ts) becomes the session on the click; while a
 * channel plays, its next and previous channels wait in standby on the spare <video> elements
 * (standby-players.ts) and a zap, or a click on one of them, shows it at once. What the user does to picture and sound is
 * in user-controls.ts.
 */
import type { EventPayload, LatencyMode, Timeline } from '../../../common/ipc-contract';
import { getApi, getClient } from '../api';
import { classifyFailure, errorText } from '../api/errors';
import { neighbour, usePrejoinStore } from '../channels/zapping';
import { useChannelsStore } from '../stores/channels-store';
import { type Failure, freshMeasurements, usePlayerStore } from '../stores/player-store';
import { useSettingsStore } from '../stores/settings-store';
import { clearHistory } from '../stores/stats-store';
import { mark } from './marks';
import { type FailureReason, PlayerController } from './player-controller';
import { playingTick } from './report';
import type { StandbyTaken } from './standby-players';
import { Timelines } from './timelines';
import { VideoStage } from './video-stage';
import { WarmPlayer, type WarmTaken } from './warm-player';

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 10_000;
/** Playing this long without trouble resets the retry backoff. */
const STEADY_MS = 5_000;
const TICK_MS = 500;
/** Standbys start this long after the first frame, so they do not compete with it. */
const STANDBY_DELAY_MS = 300;

type Status = EventPayload<'session.status'>;

class PlaybackSession {
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
  private readonly timelines = new Timelines();
  /** Statuses that arrived before 'player.open' answered with their session id. */
  private readonly earlyStatus = new Map<string, Status>();
  /** A player started ahead of the click on a hovered channel (warm-player.ts), hidden and muted. */
  private readonly warm = new WarmPlayer({
    startController: (video, sessionId, streamUrl) => this.startAhead(video, sessionId, streamUrl, false),
    release: (controller, sessionId) => this.release({ controller, sessionId }),
  });
  /** The <video> shown and the spares where the next and previous channels wait in standby. */
  private readonly stage = new VideoStage(
    {
      startController: (video, sessionId, streamUrl) => this.startAhead(video, sessionId, streamUrl, true),
      release: (controller, sessionId) => this.release({ controller, sessionId }),
    },
    () => this.warm.channel !== null && this.controller === null,
  );
  private readonly standby = this.stage.standby;
  private standbyTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    setInterval(this.tick, TICK_MS);
    // A channel the pointer rests on (zapping.ts, after its hover delay) is started ahead of the click.
    usePrejoinStore.subscribe((s, prev) => {
      if (s.hovered !== prev.hovered) this.prestart(s.hovered);
    });
    // Channels going live or off change who is next and previous; the setting turns standbys on and off.
    useChannelsStore.subscribe((s, prev) => {
      if (s.channels !== prev.channels) this.syncStandby();
    });
    useSettingsStore.subscribe((s, prev) => {
      if (s.settings.channelStandby !== prev.settings.channelStandby) this.syncStandby();
    });
  }

  get videoElement(): HTMLVideoElement | null {
    return this.stage.shown;
  }

  /** Channels waiting in standby, those ready to be shown, and how many mpegts.js players they hold. */
  get standbyState(): { channels: string[]; ready: string[]; players: number } {
    return { channels: this.standby.channels, ready: this.standby.ready, players: this.standby.players };
  }

  /** The channel whose player was started ahead of the click (hovered while idle), if any. */
  get warmChannel(): string | null {
    return this.warm.channel;
  }

  /** React mounted (video) or unmounted (null, with the `previous` one) one of the player's <video> elements. */
  attachVideo(video: HTMLVideoElement | null, previous: HTMLVideoElement | null = null): void {
    if (video === null && previous !== null && previous === this.video) this.stop();
    this.stage.attach(video, previous);
  }

  private get video(): HTMLVideoElement | null {
    return this.stage.shown;
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
    const standby = latencyMode === null ? this.standby.take(channel) : null;
    if (standby) {
      this.commitStandby(standby, t0);
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
    this.adopt(warm.channel, warm.sessionId, warm.controller);
    if (this.video) this.video.muted = warm.muted;
    // Shown now: the time to first frame is to the next frame painted without the idle screen.
    warm.controller.reveal(t0);
  }

  /** A warm or standby player becomes the session (its core session gets peers and upload). */
  private adopt(channel: string, sessionId: string, controller: PlayerController): void {
    this.clearRetry();
    this.gen++;
    this.channel = channel;
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
    usePlayerStore.setState({
      ...freshMeasurements,
      sessionId,
      channel,
      lastChannel: channel,
      latencyMode: null,
      phase: controller.hasFirstFrame ? 'playing' : 'opening',
      message: null,
      failure: null,
      retryAt: null,
    });
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
    const standby = this.standby.take(next);
    if (standby) {
      this.commitStandby(standby, t0);
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
   * The zap finds its channel in standby: its element is shown, playing on (the next channel's)
   * or from its decoded keyframe, and its warm core session becomes the session (peers,
   * upload). The old core session is closed at once; the old player is paused now and torn down
   * once the new picture moves, and its element joins the spares.
   */
  private commitStandby(taken: StandbyTaken, t0: number): void {
    const old = this.detach();
    const oldVideo = this.video;
    if (old.sessionId) this.release({ controller: null, sessionId: old.sessionId });
    oldVideo?.pause();
    this.stage.show(taken.video, false);
    this.adopt(taken.channel, taken.sessionId, taken.controller);
    taken.controller.activate(t0);
    this.stage.retireAfterFirstFrame(taken.video, oldVideo, () => old.controller?.destroy());
  }

  /** A warm (hovered) or standby player's controller, started; its events count once it is the session's. */
  private startAhead(video: HTMLVideoElement, sessionId: string, streamUrl: string, standby: boolean) {
    const controller = this.newController(video, sessionId, streamUrl, performance.now(), standby);
    controller.start();
    return controller;
  }

  /**
   * Which channels wait in standby: the next and previous live ones while a channel plays in
   * the normal way (a streamer's low-latency preview zaps without), none otherwise.
   */
  private syncStandby(): void {
    if (this.standbyTimer) clearTimeout(this.standbyTimer);
    this.standbyTimer = null;
    const playing = this.controller?.hasFirstFrame === true && this.latencyMode === null;
    const wanted = useSettingsStore.getState().settings.channelStandby;
    this.stage.holdNeighbours(playing && wanted ? this.channel : null);
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
    // The same live-sync thresholds meanwhile, or live sync would apply the low-latency defaults to a 4 s buffer.
    this.timelines.restart(id);
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
    this.standby.clear();
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
    const held = (id: string) => id === this.sessionId || this.standby.holdsSession(id);
    if (this.sessionId === null || held(timeline.sessionId)) this.timelines.keep(timeline, held);
  }

  /** The link to the core came back: retry now instead of waiting out the backoff. */
  handleReconnect(): void {
    const phase = usePlayerStore.getState().phase;
    if (this.channel && this.retryTimer && phase === 'unreachable') {
      this.clearRetry();
      void this.open(this.gen, performance.now());
    }
  }

  /** The player in use, if any (what the user's controls act on, user-controls.ts). */
  get playing(): { video: HTMLVideoElement | null; controller: PlayerController | null } {
    return { video: this.video, controller: this.controller };
  }

  /** The live-sync thresholds in force for the session (the core's, else the settings'). */
  liveSync() {
    const id = this.sessionId;
    return (id && this.timelines.get(id)?.liveSync) || useSettingsStore.getState().settings.liveSync;
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

  /** A controller whose events count while it is the session's (a warm or standby one's only once committed). */
  private newController(
    video: HTMLVideoElement,
    sessionId: string,
    streamUrl: string,
    t0: number,
    standby = false,
  ) {
    const controller: PlayerController = new PlayerController(
      video,
      streamUrl,
      t0,
      {
        // The core sends the thresholds in force for this session (latency mode, peers); until then, settings.
        getLiveSync: () =>
          this.timelines.get(sessionId)?.liveSync ?? useSettingsStore.getState().settings.liveSync,
        getTimeline: () => this.timelines.get(sessionId),
        onFirstFrame: (ttffMs) => {
          if (this.controller !== controller) return;
          this.firstFrameAt = performance.now();
          usePlayerStore.setState({ phase: 'playing', ttffMs, message: null, retryAt: null });
          if (this.standbyTimer) clearTimeout(this.standbyTimer);
          this.standbyTimer = setTimeout(() => this.syncStandby(), STANDBY_DELAY_MS);
        },
        onFailure: (reason, message) => {
          // A warm or standby player that fails is dropped quietly: the click or zap opens the channel as usual.
          if (this.warm.owns(controller)) this.warm.cancel();
          if (this.standby.owns(controller)) this.standby.dropController(controller);
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
      },
      { standby },
    );
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
    this.standby.clear();
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
    if (!this.controller || !this.sessionId || usePlayerStore.getState().phase !== 'playing') return;
    if (this.firstFrameAt !== null && performance.now() - this.firstFrameAt > STEADY_MS)
      this.retryDelayMs = RETRY_MIN_MS;
    playingTick(this.sessionId, this.liveSync(), this.tickCount % 2 === 0);
  };
}

export const playbackSession = new PlaybackSession();
