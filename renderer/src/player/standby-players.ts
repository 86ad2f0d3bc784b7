/**
 * Standby players: while a channel plays, the next and previous live channels are loaded on the
 * player's spare <video> elements, hidden (PlayerController's standby mode), each on a warm
 * core session ('player.open' {warm: true}: the channel stays as pre-joined, no peers, no
 * upload). The next channel's rolls: it plays on, hidden and muted, so a zap to it (Page Down)
 * shows its next frame; the previous one's waits paused on a keyframe (one decoded picture per
 * GOP) and plays from there. Either way nothing is fetched, transmuxed or buffered at the zap
 * (take). The playback session (session.ts) says which channels to hold and hands the elements
 * back and forth.
 */
import { getApi } from '../api';
import type { PlayerController } from './player-controller';

export interface StandbyTaken {
  channel: string;
  sessionId: string;
  controller: PlayerController;
  video: HTMLVideoElement;
}

interface Standby {
  channel: string;
  /** Plays on hidden (the next channel) rather than waiting paused on a keyframe. */
  rolling: boolean;
  video: HTMLVideoElement;
  sessionId: string | null;
  controller: PlayerController | null;
}

export interface StandbyDeps {
  /** A started standby controller for the session's stream (its events count once it is the session's). */
  startController(video: HTMLVideoElement, sessionId: string, streamUrl: string): PlayerController;
  /** Destroys a controller and closes its core session. */
  release(controller: PlayerController | null, sessionId: string | null): void;
}

/** Out of sight, and not the element tests and the page find as the player's. */
export function hideElement(video: HTMLVideoElement): void {
  video.dataset.role = 'standby';
  video.removeAttribute('data-testid');
}

export class StandbyPlayers {
  /** Elements free for a standby, hidden. */
  private readonly spare: HTMLVideoElement[] = [];
  private readonly held = new Map<string, Standby>();
  /** The channels asked for (want), next first. */
  private wanted: string[] = [];

  constructor(private readonly deps: StandbyDeps) {}

  /** Channels held in standby (loading or ready). */
  get channels(): string[] {
    return [...this.held.keys()];
  }

  /** Channels whose standby could be shown at once now (take would hand it over). */
  get ready(): string[] {
    return this.channels.filter((c) => this.held.get(c)?.controller?.standbyReady === true);
  }

  /** Standbys with a player (an mpegts.js player each). */
  get players(): number {
    let n = 0;
    for (const s of this.held.values()) if (s.controller) n++;
    return n;
  }

  /** Whether a core session belongs to a standby (its timeline is kept). */
  holdsSession(sessionId: string): boolean {
    for (const s of this.held.values()) if (s.sessionId === sessionId) return true;
    return false;
  }

  /** Whether `controller` is a standby's (its failure drops it quietly). */
  owns(controller: PlayerController): boolean {
    for (const s of this.held.values()) if (s.controller === controller) return true;
    return false;
  }

  /** An element the standbys may use (a spare one, or the one a zap left behind). */
  addElement(video: HTMLVideoElement): void {
    hideElement(video);
    if (!this.spare.includes(video)) this.spare.push(video);
  }

  /** An element going away (unmounted): its standby, if any, is dropped. */
  removeElement(video: HTMLVideoElement): void {
    for (const s of this.held.values()) if (s.video === video) this.drop(s.channel);
    const i = this.spare.indexOf(video);
    if (i >= 0) this.spare.splice(i, 1);
  }

  /**
   * Holds exactly `channels` (as far as there are elements): drops the others, starts what is
   * new. The first rolls (plays on hidden), the others wait paused on a keyframe.
   */
  want(channels: readonly string[]): void {
    this.wanted = [...channels];
    for (const c of this.channels) if (!channels.includes(c)) this.drop(c);
    for (const s of this.held.values()) {
      s.rolling = channels.indexOf(s.channel) === 0;
      s.controller?.setRolling(s.rolling);
    }
    this.refill();
  }

  /**
   * Starts what is wanted and not held, on the spare elements there are (called again when a
   * zap's old element comes back: right after a zap it is still the old player's).
   */
  refill(): void {
    this.wanted.forEach((c, i) => {
      if (this.held.has(c)) return;
      const video = this.spare.pop();
      if (video) this.start(c, video, i === 0);
    });
  }

  /** The standby of `channel`, handed over when it can be shown at once; null otherwise. */
  take(channel: string): StandbyTaken | null {
    const s = this.held.get(channel);
    if (!s?.controller || !s.sessionId || !s.controller.standbyReady) return null;
    this.held.delete(channel);
    // It plays now: not to be started again when an element comes back.
    this.wanted = this.wanted.filter((c) => c !== channel);
    return { channel, sessionId: s.sessionId, controller: s.controller, video: s.video };
  }

  /** Drops the standby `controller` plays (it failed); the next want() may start it again. */
  dropController(controller: PlayerController): void {
    for (const s of this.held.values()) if (s.controller === controller) this.drop(s.channel);
  }

  /** Drops every standby. */
  clear(): void {
    this.want([]);
  }

  private start(channel: string, video: HTMLVideoElement, rolling: boolean): void {
    const s: Standby = { channel, rolling, video, sessionId: null, controller: null };
    this.held.set(channel, s);
    void (async () => {
      let res: { sessionId: string; streamUrl: string };
      try {
        res = await getApi().invoke('player.open', { channel, warm: true });
      } catch {
        // The next want() tries again.
        if (this.held.get(channel) === s) this.drop(channel);
        return;
      }
      if (this.held.get(channel) !== s) {
        this.deps.release(null, res.sessionId);
        return;
      }
      s.sessionId = res.sessionId;
      video.muted = true;
      s.controller = this.deps.startController(video, res.sessionId, res.streamUrl);
      s.controller.setRolling(s.rolling);
    })();
  }

  private drop(channel: string): void {
    const s = this.held.get(channel);
    if (!s) return;
    this.held.delete(channel);
    this.deps.release(s.controller, s.sessionId);
    this.addElement(s.video);
  }
}
