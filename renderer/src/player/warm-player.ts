/**
 * The hovered channel's player, started ahead of the click while nothing plays: a core session
 * opened warm ('player.open' {warm: true}: the channel stays as pre-joined, no peers, no
 * upload) and a PlayerController on the page's one <video>, muted and hidden behind the idle
 * screen. The playback session (session.ts) decides when one may start, and on the click takes
 * it over (take) or, on anything else, drops it (cancel). One at a time; dropped by itself after
 * WARM_MAX_MS, since it decodes all along.
 */
import { getApi } from '../api';
import type { PlayerController } from './player-controller';

/** A warm player nobody clicks is dropped after this long. */
const WARM_MAX_MS = 60_000;

export interface WarmTaken {
  channel: string;
  sessionId: string;
  controller: PlayerController;
  /** The user's mute setting, to put back on the element. */
  muted: boolean;
}

interface Warm {
  channel: string;
  video: HTMLVideoElement;
  sessionId: string | null;
  controller: PlayerController | null;
  muted: boolean;
  expiry: ReturnType<typeof setTimeout>;
}

export interface WarmPlayerDeps {
  /** A started controller for the session's stream (its events count once it is the session's). */
  startController(video: HTMLVideoElement, sessionId: string, streamUrl: string): PlayerController;
  /** Destroys a controller and closes its core session. */
  release(controller: PlayerController | null, sessionId: string | null): void;
}

export class WarmPlayer {
  private warm: Warm | null = null;

  constructor(private readonly deps: WarmPlayerDeps) {}

  get channel(): string | null {
    return this.warm?.channel ?? null;
  }

  /** Whether `controller` is the warm one (its failure drops it quietly). */
  owns(controller: PlayerController): boolean {
    return this.warm !== null && this.warm.controller === controller;
  }

  /** Starts `channel` on `video` (a no-op when it is the one already warm). */
  start(channel: string, video: HTMLVideoElement): void {
    if (this.warm?.channel === channel && this.warm.video === video) return;
    this.cancel();
    const warm: Warm = {
      channel,
      video,
      sessionId: null,
      controller: null,
      muted: video.muted,
      expiry: setTimeout(() => {
        if (this.warm === warm) this.cancel();
      }, WARM_MAX_MS),
    };
    this.warm = warm;
    void (async () => {
      let res: { sessionId: string; streamUrl: string };
      try {
        res = await getApi().invoke('player.open', { channel, warm: true });
      } catch {
        if (this.warm === warm) this.cancel();
        return;
      }
      if (this.warm !== warm) {
        this.deps.release(null, res.sessionId);
        return;
      }
      warm.sessionId = res.sessionId;
      video.muted = true;
      warm.controller = this.deps.startController(video, res.sessionId, res.streamUrl);
    })();
  }

  /** The warm player of `channel`, handed over (null when there is none ready for it). */
  take(channel: string): WarmTaken | null {
    const warm = this.warm;
    if (!warm || warm.channel !== channel || !warm.controller || !warm.sessionId) return null;
    this.warm = null;
    clearTimeout(warm.expiry);
    return { channel, sessionId: warm.sessionId, controller: warm.controller, muted: warm.muted };
  }

  /** Drops the warm player, if any, and puts the user's mute setting back on its element. */
  cancel(): void {
    const warm = this.warm;
    if (!warm) return;
    this.warm = null;
    clearTimeout(warm.expiry);
    if (warm.controller) warm.video.muted = warm.muted;
    this.deps.release(warm.controller, warm.sessionId);
  }
}
