/** Small helpers over HTMLMediaElement.buffered. */

/** The buffered range that holds `t` (with a little slack for frame boundaries), or null. */
export function rangeAt(
  buffered: TimeRanges,
  t: number,
  slack = 0.05,
): { start: number; end: number } | null {
  for (let i = 0; i < buffered.length; i++) {
    const start = buffered.start(i);
    const end = buffered.end(i);
    if (t >= start - slack && t <= end + slack) return { start, end };
  }
  return null;
}

/** The last buffered range (the newest data of a live stream), or null when nothing is buffered. */
export function lastRange(buffered: TimeRanges): { start: number; end: number } | null {
  if (buffered.length === 0) return null;
  const i = buffered.length - 1;
  return { start: buffered.start(i), end: buffered.end(i) };
}

/** Seconds of media buffered ahead of the playhead, 0 when the playhead is outside the buffer. */
export function bufferAhead(video: HTMLMediaElement): number {
  const r = rangeAt(video.buffered, video.currentTime);
  return r ? Math.max(0, r.end - video.currentTime) : 0;
}

/** Decoded video frames so far (0 where the browser does not say). */
export function decodedFrames(video: HTMLVideoElement): number {
  try {
    return video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
  } catch {
    return 0;
  }
}

/**
 * video.play(); when the browser refuses unmuted autoplay (NotAllowedError), plays muted and
 * calls `onMuted` so the UI can offer to unmute. An AbortError (a seek or teardown interrupted
 * play()) is ignored: 'playing' still follows when it can.
 */
export function playWithMutedFallback(video: HTMLMediaElement, onMuted: () => void): void {
  video.play().catch((err: unknown) => {
    if (err instanceof DOMException && err.name === 'NotAllowedError' && !video.muted && video.isConnected) {
      video.muted = true;
      onMuted();
      video.play().catch(() => {});
    }
  });
}
