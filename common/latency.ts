/**
 * Latency behind live from the core's timeline: the frame shown has FLV timestamp
 * ≈ firstTs + currentTime·1000; the last anchor at or before it maps it to the origin's
 * wall-clock time; latency = (now + clockOffsetMs − that time) / 1000.
 */
import type { Timeline } from './ipc-contract';

/** Origin wall-clock time (ms) at which the frame at `currentTimeS` arrived at the origin, or null. */
export function frameOriginTime(
  timeline: Pick<Timeline, 'anchors' | 'firstTs'>,
  currentTimeS: number,
): number | null {
  const anchors = timeline.anchors;
  if (anchors.length === 0 || !Number.isFinite(currentTimeS)) return null;
  const frameTs = timeline.firstTs + currentTimeS * 1000;
  // Anchors are oldest first; take the last one at or before the frame (or the oldest, extrapolated).
  let anchor = anchors[0]!;
  for (const a of anchors) {
    if (a.ts <= frameTs) anchor = a;
    else break;
  }
  return anchor.originTime + (frameTs - anchor.ts);
}

/** Seconds behind live of the frame shown at `currentTimeS`, or null without a usable timeline. */
export function latencyBehindLiveS(
  timeline: Pick<Timeline, 'anchors' | 'firstTs' | 'clockOffsetMs'> | null,
  currentTimeS: number,
  nowMs: number,
): number | null {
  if (!timeline) return null;
  const origin = frameOriginTime(timeline, currentTimeS);
  if (origin === null) return null;
  return (nowMs + timeline.clockOffsetMs - origin) / 1000;
}
