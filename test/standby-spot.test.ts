/**
 * Where a paused standby player sits (renderer/src/player/standby-spot.ts): on a keyframe about
 * the mode's latency target behind its buffered end, moving only forward to a newer one.
 */
import { describe, expect, it } from 'vitest';
import { keyframeTimes, type StandbyView, standbySpot } from '../renderer/src/player/standby-spot';

const view = (o: Partial<StandbyView>): StandbyView => ({
  start: 0,
  end: 10,
  currentTime: 0,
  keyframesS: [0, 2, 4, 6, 8],
  targetS: 3,
  ...o,
});

describe('standbySpot', () => {
  const rows: Array<[string, Partial<StandbyView>, number | null]> = [
    ['the newest keyframe at least the target behind the end', {}, 6],
    ['already there: stay', { currentTime: 6 }, null],
    ['a newer keyframe qualifies as the buffer grows', { currentTime: 6, end: 11.5 }, 8],
    ['never backwards while inside the buffer', { currentTime: 8, end: 10.5 }, null],
    ['a short target: the newest with some data after it', { targetS: 0.4 }, 8],
    ['all keyframes nearer than the target: the oldest held', { keyframesS: [1, 3, 5], targetS: 30 }, 1],
    ['keyframes that fell out of the buffer are not used', { start: 3, currentTime: 3, targetS: 30 }, 4],
    ['a keyframe with no data after it is not a place to sit', { keyframesS: [1, 9.9], targetS: 0.05 }, 1],
    ['no keyframe known, inside the buffer: stay', { keyframesS: [], currentTime: 0.5 }, null],
    ['no keyframe known, before the buffer: its start', { keyframesS: [], start: 2, currentTime: 0 }, 2],
    ['fell behind the buffer: back onto a keyframe', { start: 5, currentTime: 1, keyframesS: [6, 8] }, 6],
  ];
  it.each(rows)('%s', (_name, o, want) => {
    expect(standbySpot(view(o))).toBe(want);
  });

  it('maps the core keyframe timestamps to the player media time', () => {
    expect(keyframeTimes([10_000, 12_040], 10_000)).toEqual([0, 2.04]);
  });
});
