/**
 * What the user does to the playing picture and sound — pause, mute, volume, seek within the
 * buffer, back to live — on the <video> shown (the playback session, session.ts, says which
 * element and controller are in use and the live-sync thresholds in force). The store follows,
 * and the sound settings are remembered (volume-memory.ts).
 */
import { usePlayerStore } from '../stores/player-store';
import { lastRange, rangeAt } from './media';
import { playbackSession } from './session';
import { saveAudioPrefs } from './volume-memory';

export function setMuted(muted: boolean): void {
  const { video } = playbackSession.playing;
  if (video) {
    video.muted = muted;
    if (!muted && video.volume === 0) video.volume = 0.5;
  }
  const volume = video ? video.volume : usePlayerStore.getState().volume;
  usePlayerStore.setState({ muted, volume });
  saveAudioPrefs({ muted, volume });
}

export function setVolume(volume: number): void {
  const { video } = playbackSession.playing;
  const v = Math.min(1, Math.max(0, volume));
  if (video) {
    video.volume = v;
    if (v > 0 && video.muted) video.muted = false;
  }
  const muted = video ? video.muted : v === 0;
  usePlayerStore.setState({ volume: v, muted });
  saveAudioPrefs({ volume: v, muted });
}

/** ↑ / ↓: volume in steps; turning it up unmutes. */
export function volumeBy(delta: number): void {
  const s = usePlayerStore.getState();
  setVolume(Math.round(((s.muted ? 0 : s.volume) + delta) * 100) / 100);
}

/** ← / →: move within what is buffered (a live stream has nothing beyond its buffer). */
export function seekBy(seconds: number): void {
  const { video, controller } = playbackSession.playing;
  const liveSync = playbackSession.liveSync();
  if (!video || !controller?.hasFirstFrame) return;
  const r = rangeAt(video.buffered, video.currentTime);
  if (!r) return;
  const target = Math.min(r.end - 0.1, Math.max(r.start, video.currentTime + seconds));
  if (Math.abs(target - video.currentTime) <= 0.05) return;
  // Going back is a choice to watch behind live: live sync must not undo it. Forward to
  // the live edge's reach gives control back to live sync.
  const latency = usePlayerStore.getState().latencyS;
  const after = latency === null ? null : latency - (target - video.currentTime);
  controller.holdLiveSync(seconds < 0 || (after !== null && after > liveSync.speedUpAboveS));
  video.currentTime = target;
}

/** Back to the live edge: the target latency behind the newest data, playing. */
export function jumpToLive(): void {
  const { video, controller } = playbackSession.playing;
  const liveSync = playbackSession.liveSync();
  if (!video || !controller?.hasFirstFrame) return;
  const r = lastRange(video.buffered);
  if (r) {
    const want = Math.max(r.start, r.end - liveSync.targetLatencyS);
    if (want > video.currentTime + 0.1) video.currentTime = want;
  }
  video.playbackRate = 1;
  controller.holdLiveSync(false);
  if (video.paused) video.play().catch(() => {});
  controller.syncNow();
}

/** Space / click: pause or resume; with nothing playing, play again what played before Stop. */
export function togglePause(): void {
  const { video, controller } = playbackSession.playing;
  if (!controller) {
    playbackSession.replay();
    return;
  }
  if (!video) return;
  if (video.paused) {
    video.play().catch(() => {});
    controller.syncNow();
  } else {
    video.pause();
  }
}
