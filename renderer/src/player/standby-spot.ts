/**
 * Where a standby player (the next or previous channel, loaded paused and hidden while another
 * one plays) sits: on a keyframe, so that each move decodes a single picture, and about as far
 * behind its buffered end as a cold start in the same mode would begin. A pure function of what
 * the element has buffered, where it is, and the keyframes the core wrote (media seconds).
 */

/** A keyframe needs at least this much data after it to be a place to sit. */
const MIN_AFTER_S = 0.2;
/** Timestamps are in ms, media times in s: allow for rounding at the buffer's start. */
const EDGE_SLACK_S = 0.05;

export interface StandbyView {
  /** The last buffered range, seconds. */
  start: number;
  end: number;
  currentTime: number;
  /** Keyframe media times written to the stream, oldest first. */
  keyframesS: readonly number[];
  /** How far behind the buffered end playing should begin (the mode's latency target), s. */
  targetS: number;
}

/**
 * The media time to seek to now, or null to stay. Sits on the newest keyframe at least the
 * target behind the end (the oldest one held when all are nearer); without keyframes known yet,
 * on the buffer's start (the stream begins with one).
 */
export function standbySpot(v: StandbyView): number | null {
  const held = v.keyframesS.filter((k) => k >= v.start - EDGE_SLACK_S && k <= v.end - MIN_AFTER_S);
  const outside = v.currentTime < v.start - EDGE_SLACK_S || v.currentTime > v.end;
  if (held.length === 0) return outside ? v.start : null;
  let spot = held[0]!;
  for (const k of held) if (v.end - k >= v.targetS) spot = k;
  const at = Math.max(spot, v.start);
  // Only forward (a newer keyframe qualified), or back inside the buffer when it fell out.
  return outside || at > v.currentTime + EDGE_SLACK_S ? at : null;
}

/** Keyframe timestamps (ms) of a session's stream as media times (s) of its player. */
export function keyframeTimes(keyframesTs: readonly number[], firstTs: number): number[] {
  return keyframesTs.map((ts) => (ts - firstTs) / 1000);
}
