/**
 * The player's <video> elements: the one shown (its state mirrored into the player store, the
 * one tests find as data-testid="video") and the hidden spares on which the next and previous
 * channels wait in standby (standby-players.ts). A zap to a standby makes its element the shown
 * one and the old one a spare.
 */
import { neighbour } from '../channels/zapping';
import { usePlayerStore } from '../stores/player-store';
import { hideElement, type StandbyDeps, StandbyPlayers } from './standby-players';
import { mirrorVideoState } from './video-mirror';

/** A zap's old player is torn down at the new one's first frame, or after this long at the latest. */
const RETIRE_MAX_MS = 1_000;

export class VideoStage {
  shown: HTMLVideoElement | null = null;
  readonly standby: StandbyPlayers;
  private detachMirror: (() => void) | null = null;

  constructor(
    deps: StandbyDeps,
    /** While true the shown element's events do not reach the store (a warm player plays hidden). */
    private readonly quiet: () => boolean,
  ) {
    this.standby = new StandbyPlayers(deps);
  }

  /** React mounted `video` (or unmounted `previous`: video null): the first is shown, the rest are spares. */
  attach(video: HTMLVideoElement | null, previous: HTMLVideoElement | null): void {
    if (video === null) {
      if (previous && previous === this.shown) this.show(null);
      else if (previous) this.standby.removeElement(previous);
      return;
    }
    if (this.shown === null) this.show(video);
    else if (video !== this.shown) this.standby.addElement(video);
  }

  /**
   * Makes `video` the shown element, with the user's sound (null: none); the old one becomes a
   * spare now, or when retire() is called for it (`spareOld` false: its player is still on it).
   */
  show(video: HTMLVideoElement | null, spareOld = true): void {
    this.detachMirror?.();
    this.detachMirror = null;
    const old = this.shown;
    this.shown = video;
    if (!video) return;
    video.dataset.role = 'active';
    video.dataset.testid = 'video';
    if (old && old !== video) {
      if (spareOld) this.standby.addElement(old);
      else hideElement(old);
    }
    const s = usePlayerStore.getState();
    video.muted = s.muted;
    video.volume = s.volume;
    this.detachMirror = mirrorVideoState(video, this.quiet);
  }

  /**
   * A zap showed `next` instead of `old`: the old element's player goes (`destroy`) once `next`
   * presents a frame — its teardown holds the page's thread for tens of ms, which would delay
   * the new picture — or after RETIRE_MAX_MS; then the element is a spare again.
   */
  retireAfterFirstFrame(next: HTMLVideoElement, old: HTMLVideoElement | null, destroy: () => void): void {
    let done = false;
    const retire = () => {
      if (done) return;
      done = true;
      destroy();
      if (old && old !== this.shown && old.isConnected) {
        this.standby.addElement(old);
        this.standby.refill();
      }
    };
    if (typeof next.requestVideoFrameCallback === 'function')
      next.requestVideoFrameCallback(() => setTimeout(retire, 0));
    setTimeout(retire, RETIRE_MAX_MS);
  }

  /** Holds the next and previous live channels of `current` in standby; none for null. */
  holdNeighbours(current: string | null): void {
    const want: string[] = [];
    if (current !== null) {
      for (const c of [neighbour(current, 1), neighbour(current, -1)]) {
        if (c !== null && c !== current && !want.includes(c)) want.push(c);
      }
    }
    this.standby.want(want);
  }
}
