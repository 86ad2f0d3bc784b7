/**
 * Holding playback in the latency band: a pure policy shared by the renderer's player and
 * the headless player. Speed up only while latency is above the threshold and there is
 * buffer to spend (so the buffer never runs dry); drop back to normal speed once near the
 * target; seek only when far behind.
 */
import type { LiveSync } from './ipc-contract';

/** Below this much buffer ahead (s) we never play faster than real time. */
export const MIN_BUFFER_FOR_SPEEDUP_S = 0.4;
/** Once catching up, keep going until this close (s) to the target. */
const SETTLE_MARGIN_S = 0.05;

export interface LiveSyncInput {
  /** Seconds behind live of the frame shown, or null when unknown (buffer ahead is used instead). */
  latencyS: number | null;
  /** Seconds of media buffered ahead of the playhead. */
  bufferAheadS: number;
  currentRate: number;
  settings: LiveSync;
}

export interface LiveSyncDecision {
  rate: number;
  /** Seconds to jump forward, or null. */
  seekBy: number | null;
}

export function decideLiveSync({
  latencyS,
  bufferAheadS,
  currentRate,
  settings,
}: LiveSyncInput): LiveSyncDecision {
  const behind = latencyS ?? bufferAheadS;
  if (behind > settings.seekAboveS) {
    const jump = bufferAheadS - settings.targetLatencyS;
    if (jump > 0) return { rate: 1, seekBy: jump };
  }
  if (bufferAheadS <= MIN_BUFFER_FOR_SPEEDUP_S) return { rate: 1, seekBy: null };
  const catchingUp = currentRate > 1;
  if (behind > settings.speedUpAboveS || (catchingUp && behind > settings.targetLatencyS + SETTLE_MARGIN_S)) {
    return { rate: settings.catchUpRate, seekBy: null };
  }
  return { rate: 1, seekBy: null };
}

/**
 * Normal mode sits this far behind live so that each new segment has time to travel from
 * viewer to viewer before the player needs it; low-latency mode (the streamer's preview)
 * plays close to live from the CDN.
 */
export const NORMAL_MODE_TARGET_S = 3;

/** The thresholds the player follows, from the settings and whether peers are in use. */
export function effectiveLiveSync(liveSync: LiveSync, mode: 'normal' | 'low', p2pActive: boolean): LiveSync {
  if (mode === 'low' || !p2pActive) return liveSync;
  const target = Math.max(liveSync.targetLatencyS, NORMAL_MODE_TARGET_S);
  return {
    ...liveSync,
    targetLatencyS: target,
    speedUpAboveS: Math.max(liveSync.speedUpAboveS, target + 1.5),
    seekAboveS: Math.max(liveSync.seekAboveS, target + 6),
  };
}
