/**
 * Latency behind live from the core's timeline: the frame shown has FLV timestamp
 * ≈ firstTs + currentTime·1000; the last anchor at or before it maps it to the origin's
 * wall-clock time; latency = (now + clockOffsetMs − that time) / 1000.
 */

/** A segment's first FLV timestamp and the origin's wall-clock time when it arrived there. */
export interface Anchor {
  ts: number;
  originTime: number;
}

/** What the latency is read from (the IPC contract's Timeline has these fields). */
export interface AnchoredTimeline {
  /** Oldest first. */
  anchors: readonly Anchor[];
  firstTs: number;
  clockOffsetMs: number;
}

/** Origin wall-clock time (ms) at which the frame at `currentTimeS` arrived at the origin, or null. */
export function frameOriginTime(
  timeline: Pick<AnchoredTimeline, 'anchors' | 'firstTs'>,
  currentTimeS: number,
): number | null {
  const anchors = timeline.anchors;
  if (anchors.length === 0 || !Number.isFinite(currentTimeS)) return null;
  const frameTs = timeline.firstTs + currentTimeS * 1000;
  // Anchors are oldest first; take the last one at or before the frame (or the oldest, extrapolated).
  // Indexed: players run this several times a second, in a lean viewer in V8's baseline code, where
  // for-of allocates per element.
  let anchor = anchors[0]!;
  for (let i = 1; i < anchors.length && anchors[i]!.ts <= frameTs; i++) anchor = anchors[i]!;
  return anchor.originTime + (frameTs - anchor.ts);
}

/** Seconds behind live of the frame shown at `currentTimeS`, or null without a usable timeline. */
export function latencyBehindLiveS(
  timeline: AnchoredTimeline | null,
  currentTimeS: number,
  nowMs: number,
): number | null {
  if (!timeline) return null;
  const origin = frameOriginTime(timeline, currentTimeS);
  if (origin === null) return null;
  return (nowMs + timeline.clockOffsetMs - origin) / 1000;
}
