/** Keeps the player store's paused / muted / volume / waiting in step with the <video>. */
import { usePlayerStore } from '../stores/player-store';

/** Starts mirroring (not while `quiet()`: a warm player plays hidden); returns the function that stops it. */
export function mirrorVideoState(video: HTMLVideoElement, quiet: () => boolean = () => false): () => void {
  const mirror = () =>
    quiet() || usePlayerStore.setState({ paused: video.paused, muted: video.muted, volume: video.volume });
  const waiting = () => quiet() || usePlayerStore.setState({ waiting: true });
  const resumed = () => quiet() || usePlayerStore.setState({ waiting: false, paused: video.paused });
  const events: [keyof HTMLMediaElementEventMap, () => void][] = [
    ['play', mirror],
    ['pause', mirror],
    ['volumechange', mirror],
    ['waiting', waiting],
    ['playing', resumed],
    ['emptied', resumed],
  ];
  for (const [type, fn] of events) video.addEventListener(type, fn);
  return () => {
    for (const [type, fn] of events) video.removeEventListener(type, fn);
  };
}
