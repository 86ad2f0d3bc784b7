import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BEAT_MS, beatLatenessMs, everyBeat } from '../common/heartbeat';

describe('heartbeat: one timer for all periodic work', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    { periodMs: 250, inOneSecond: 4 },
    { periodMs: 200, inOneSecond: 4 }, // rounded to 1 beat
    { periodMs: 400, inOneSecond: 2 }, // rounded to 2 beats
    { periodMs: 500, inOneSecond: 2 },
    { periodMs: 1000, inOneSecond: 1 },
    { periodMs: 30, inOneSecond: 4 }, // at least one beat
    { periodMs: 1e9, inOneSecond: 0 },
  ])('a $periodMs ms task runs $inOneSecond times a second', ({ periodMs, inOneSecond }) => {
    const fn = vi.fn();
    const stop = everyBeat(periodMs, fn);
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(inOneSecond);
    stop();
  });

  it('runs every task from one timer, all those due at a beat in the same wake-up', () => {
    const at: Array<[string, number]> = [];
    const stops = [250, 500, 1000].map((p) => everyBeat(p, () => at.push([`${p}`, Date.now()])));
    expect(vi.getTimerCount()).toBe(1);
    const t0 = Date.now();
    vi.advanceTimersByTime(1000);
    // Beat 4 (1 s) runs all three, at the same instant.
    const last = at.filter(([, t]) => t === t0 + 1000).map(([p]) => p);
    expect(last).toEqual(['250', '500', '1000']);
    // Every run falls on a beat.
    for (const [, t] of at) expect((t - t0) % BEAT_MS).toBe(0);
    for (const stop of stops) stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a task added later is in phase with the others', () => {
    const a: number[] = [];
    const b: number[] = [];
    const stopA = everyBeat(500, () => a.push(Date.now()));
    vi.advanceTimersByTime(3 * BEAT_MS);
    const stopB = everyBeat(500, () => b.push(Date.now()));
    vi.advanceTimersByTime(1000);
    expect(b.length).toBeGreaterThan(0);
    for (const t of b) expect(a).toContain(t);
    stopA();
    stopB();
  });

  it('stops a task, also from inside a beat, and drops the timer when none is left', () => {
    const other = vi.fn();
    let stopSelf = () => {};
    const self = vi.fn(() => stopSelf());
    stopSelf = everyBeat(BEAT_MS, self);
    const stopOther = everyBeat(BEAT_MS, other);
    vi.advanceTimersByTime(3 * BEAT_MS);
    expect(self).toHaveBeenCalledTimes(1);
    expect(other).toHaveBeenCalledTimes(3);
    stopSelf(); // a second stop is harmless
    stopOther();
    expect(vi.getTimerCount()).toBe(0);
    expect(beatLatenessMs()).toBe(0);
  });
});
