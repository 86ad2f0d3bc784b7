/**
 * The live-sync policy: after the start-up jump, hold latency behind live inside a band with
 * the playback rate, and seek only when far behind. Pure and shared: the renderer's player and
 * the headless player (`swarmcast peer`) both call it a few times a second
 * (table-tested in test/live-sync.test.ts).
 *
 * - Latency is the timeline's (now − origin time of the frame shown) when known, otherwise
 *   the buffer ahead (buffered end − currentTime) stands in for it.
 * - Above seekAboveS: seek forward inside the buffer, to targetLatencyS behind the buffered end
 *   at most (never past the data we have), when that skips at least MIN_SEEK_SKIP_S.
 * - Above speedUpAboveS: play at catchUpRate, but only while the buffer ahead is large enough
 *   that it cannot run dry (start above SPEEDUP_START_BUFFER_S, stop at MIN_SPEEDUP_BUFFER_S).
 * - Once catching up, keep going until latency is back within targetLatencyS, then 1.0.
 */
import type { LiveSync } from './ipc-contract';

/** Never play faster than 1.0 with less than this much buffered ahead (measured: 1.5× runs dry below ~0.4 s). */
export const MIN_SPEEDUP_BUFFER_S = 0.4;
/** Start speeding up only with this much buffered ahead (hysteresis above MIN_SPEEDUP_BUFFER_S). */
export const SPEEDUP_START_BUFFER_S = 0.6;
/** A seek must skip at least this much to be worth the visible jump. */
export const MIN_SEEK_SKIP_S = 0.5;

export interface LiveSyncInput {
  /** Latency behind live from the timeline (s), or null when there is no timeline yet. */
  latencyS: number | null;
  /** Buffered end − currentTime (s), in the range that holds currentTime; 0 when none. */
  bufferAheadS: number;
  /** video.currentTime (s). */
  currentTime: number;
  /** video.playbackRate now. */
  currentRate: number;
  settings: LiveSync;
}

export interface LiveSyncDecision {
  rate: number;
  /** Set when the player should jump forward to this media time (always inside the buffer). */
  seekTo?: number;
  /** Why: for logs and tests. */
  reason: 'seek' | 'catch-up' | 'in-band' | 'low-buffer' | 'no-data';
}

export function liveSyncDecision(input: LiveSyncInput): LiveSyncDecision {
  const { settings: s, currentTime, currentRate } = input;
  const buffer = Number.isFinite(input.bufferAheadS) ? Math.max(0, input.bufferAheadS) : 0;
  const latency = input.latencyS !== null && Number.isFinite(input.latencyS) ? input.latencyS : buffer;
  if (!Number.isFinite(latency) || !Number.isFinite(currentTime)) return { rate: 1, reason: 'no-data' };

  if (latency > s.seekAboveS) {
    // Skip what puts us at the target, but no further than the data we hold allows.
    const skip = Math.min(latency - s.targetLatencyS, buffer - s.targetLatencyS);
    if (skip >= MIN_SEEK_SKIP_S) return { rate: 1, seekTo: currentTime + skip, reason: 'seek' };
  }

  const catchingUp = currentRate > 1;
  const bufferOk = buffer > (catchingUp ? MIN_SPEEDUP_BUFFER_S : SPEEDUP_START_BUFFER_S);
  const wantsFaster = latency > s.speedUpAboveS || (catchingUp && latency > s.targetLatencyS);
  if (wantsFaster) {
    return bufferOk ? { rate: s.catchUpRate, reason: 'catch-up' } : { rate: 1, reason: 'low-buffer' };
  }
  return { rate: 1, reason: 'in-band' };
}

/**
 * Normal mode sits this far behind live so that each new segment has time to travel from
 * viewer to viewer before the player needs it; low-latency mode (the streamer's preview)
 * plays close to live from the CDN.
 */
export const NORMAL_MODE_TARGET_S = 4;
/** Sub-rooms of up to this many viewers play NORMAL_MODE_TARGET_S behind live. */
export const SMALL_SUB_ROOM_VIEWERS = 50;
/** Sub-rooms of this many viewers and more play LARGE_SUB_ROOM_TARGET_S behind live. */
export const LARGE_SUB_ROOM_VIEWERS = 800;
export const LARGE_SUB_ROOM_TARGET_S = 8;

/**
 * The normal-mode target for a sub-room of `viewers` (as the COM counted it when it placed this
 * viewer; null = not told). A new segment enters a sub-room at a few viewers (seeds' copies, the
 * first-copy holders) and reaches everyone after about log(viewers) hops of a whole segment each:
 * a sub-room of a thousand needs twice the time of a room of fifty, or its viewers fall back to
 * the CDN (sim:swarm, 10,000 viewers in sub-rooms of 1,000: p2p share 0.36 at 4 s, 0.82 at 6 s,
 * 0.85 at 8 s). So the target grows with the logarithm of the sub-room's size, from
 * NORMAL_MODE_TARGET_S up to LARGE_SUB_ROOM_TARGET_S, in steps of a tenth of a second.
 */
export function normalModeTargetS(viewers: number | null): number {
  if (viewers === null || !(viewers > SMALL_SUB_ROOM_VIEWERS)) return NORMAL_MODE_TARGET_S;
  const f = Math.min(
    1,
    Math.log(viewers / SMALL_SUB_ROOM_VIEWERS) / Math.log(LARGE_SUB_ROOM_VIEWERS / SMALL_SUB_ROOM_VIEWERS),
  );
  return Math.round((NORMAL_MODE_TARGET_S + f * (LARGE_SUB_ROOM_TARGET_S - NORMAL_MODE_TARGET_S)) * 10) / 10;
}

/**
 * The thresholds the player follows, from the settings, whether peers are in use and the size
 * of the viewer's sub-room (normalModeTargetS).
 */
export function effectiveLiveSync(
  liveSync: LiveSync,
  mode: 'normal' | 'low',
  p2pActive: boolean,
  subRoomViewers: number | null = null,
): LiveSync {
  if (mode === 'low' || !p2pActive) return liveSync;
  const target = Math.max(liveSync.targetLatencyS, normalModeTargetS(subRoomViewers));
  return {
    ...liveSync,
    targetLatencyS: target,
    speedUpAboveS: Math.max(liveSync.speedUpAboveS, target + 1.5),
    seekAboveS: Math.max(liveSync.seekAboveS, target + 6),
  };
}

/** How often a player takes a live-sync decision (ms): the renderer's player and the headless one. */
export const LIVE_SYNC_PERIOD_MS = 250;
