/**
 * The live-sync policy (common/live-sync.ts, used by the renderer's player and the headless
 * player) and the latency it is fed (common/latency.ts), table-driven.
 */
import { describe, expect, it } from 'vitest';
import type { LiveSync, Timeline } from '../common/ipc-contract';

import { frameOriginTime, latencyBehindLiveS } from '../common/latency';
import {
  effectiveLiveSync,
  LARGE_SUB_ROOM_TARGET_S,
  type LiveSyncInput,
  liveSyncDecision,
  NORMAL_MODE_TARGET_S,
  normalModeTargetS,
} from '../common/live-sync';

// Thresholds of the table below (fixed here, so changing the app's defaults does not move the table).
const S: LiveSync = { targetLatencyS: 0.5, speedUpAboveS: 1.0, catchUpRate: 1.15, seekAboveS: 4 };

const input = (p: Partial<LiveSyncInput>): LiveSyncInput => ({
  latencyS: null,
  bufferAheadS: 0.5,
  currentTime: 100,
  currentRate: 1,
  settings: S,
  ...p,
});

describe('liveSyncDecision', () => {
  const cases: [string, Partial<LiveSyncInput>, { rate: number; seekTo?: number; reason: string }][] = [
    ['in band: normal speed', { latencyS: 0.6, bufferAheadS: 0.5 }, { rate: 1, reason: 'in-band' }],
    ['just below speed-up threshold', { latencyS: 0.99, bufferAheadS: 0.9 }, { rate: 1, reason: 'in-band' }],
    [
      'above threshold with buffer: catch up',
      { latencyS: 1.5, bufferAheadS: 1.2 },
      { rate: 1.15, reason: 'catch-up' },
    ],
    [
      'above threshold, buffer too thin to start',
      { latencyS: 1.5, bufferAheadS: 0.5 },
      { rate: 1, reason: 'low-buffer' },
    ],
    [
      'catching up continues above target',
      { latencyS: 0.8, bufferAheadS: 0.5, currentRate: 1.15 },
      { rate: 1.15, reason: 'catch-up' },
    ],
    [
      'catching up stops at the buffer floor',
      { latencyS: 0.8, bufferAheadS: 0.4, currentRate: 1.15 },
      { rate: 1, reason: 'low-buffer' },
    ],
    [
      'back to 1.0 within target',
      { latencyS: 0.5, bufferAheadS: 0.45, currentRate: 1.15 },
      { rate: 1, reason: 'in-band' },
    ],
    [
      'far behind with buffer: seek to target',
      { latencyS: 6, bufferAheadS: 6 },
      { rate: 1, seekTo: 105.5, reason: 'seek' },
    ],
    [
      'far behind: seek limited to the buffer',
      { latencyS: 8, bufferAheadS: 3 },
      { rate: 1, seekTo: 102.5, reason: 'seek' },
    ],
    [
      'far behind, data late (thin buffer): no seek, no speed-up',
      { latencyS: 8, bufferAheadS: 0.3 },
      { rate: 1, reason: 'low-buffer' },
    ],
    [
      'far behind, buffer moderate: skip too small, catch up',
      { latencyS: 8, bufferAheadS: 0.9 },
      { rate: 1.15, reason: 'catch-up' },
    ],
    [
      'no timeline: buffer is the proxy, in band',
      { latencyS: null, bufferAheadS: 0.7 },
      { rate: 1, reason: 'in-band' },
    ],
    [
      'no timeline: big buffer catches up',
      { latencyS: null, bufferAheadS: 2 },
      { rate: 1.15, reason: 'catch-up' },
    ],
    [
      'no timeline: huge buffer seeks',
      { latencyS: null, bufferAheadS: 5 },
      { rate: 1, seekTo: 104.5, reason: 'seek' },
    ],
    [
      'no timeline: catching up ends at target',
      { latencyS: null, bufferAheadS: 0.5, currentRate: 1.15 },
      { rate: 1, reason: 'in-band' },
    ],
    [
      'NaN latency treated as unknown',
      { latencyS: Number.NaN, bufferAheadS: 0.5 },
      { rate: 1, reason: 'in-band' },
    ],
    ['NaN currentTime', { latencyS: 1, currentTime: Number.NaN }, { rate: 1, reason: 'no-data' }],
  ];
  for (const [name, p, want] of cases) {
    it(name, () => {
      const d = liveSyncDecision(input(p));
      expect(d.rate).toBe(want.rate);
      expect(d.reason).toBe(want.reason);
      if (want.seekTo === undefined) expect(d.seekTo).toBeUndefined();
      else expect(d.seekTo).toBeCloseTo(want.seekTo, 6);
    });
  }

  it('never speeds up with less than 0.4 s buffered, whatever the latency', () => {
    for (const latencyS of [0.2, 1, 3, 10, null]) {
      for (const currentRate of [1, 1.15]) {
        for (const bufferAheadS of [0, 0.1, 0.39, 0.4]) {
          const d = liveSyncDecision(input({ latencyS, bufferAheadS, currentRate }));
          expect(d.rate).toBe(1);
        }
      }
    }
  });

  it('never seeks past the buffered data', () => {
    for (const latencyS of [4.5, 10, 60, null]) {
      for (const bufferAheadS of [0, 1, 5, 30]) {
        const d = liveSyncDecision(input({ latencyS, bufferAheadS }));
        if (d.seekTo !== undefined)
          expect(d.seekTo).toBeLessThanOrEqual(100 + bufferAheadS - S.targetLatencyS);
      }
    }
  });

  it('follows the settings', () => {
    const s: LiveSync = { targetLatencyS: 1, speedUpAboveS: 2, catchUpRate: 1.5, seekAboveS: 10 };
    expect(liveSyncDecision(input({ settings: s, latencyS: 1.8, bufferAheadS: 1.5 })).rate).toBe(1);
    expect(liveSyncDecision(input({ settings: s, latencyS: 2.5, bufferAheadS: 1.5 })).rate).toBe(1.5);
    expect(liveSyncDecision(input({ settings: s, latencyS: 8, bufferAheadS: 8 })).seekTo).toBeUndefined();
  });
});

describe('normal-mode target by sub-room size', () => {
  const rows: Array<[number | null, number]> = [
    [null, NORMAL_MODE_TARGET_S],
    [1, NORMAL_MODE_TARGET_S],
    [30, NORMAL_MODE_TARGET_S],
    [50, NORMAL_MODE_TARGET_S],
    [100, 5],
    [200, 6],
    [400, 7],
    [800, LARGE_SUB_ROOM_TARGET_S],
    [100_000, LARGE_SUB_ROOM_TARGET_S],
  ];
  it.each(rows)('%s viewers: %s s behind live', (viewers, target) => {
    expect(normalModeTargetS(viewers)).toBe(target);
  });

  it('never shrinks as the sub-room grows', () => {
    let last = 0;
    for (let n = 1; n <= 2000; n++) {
      const t = normalModeTargetS(n);
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
  });

  it('applies in normal mode with peers only, and a longer target of the user still wins', () => {
    expect(effectiveLiveSync(S, 'normal', true, 800).targetLatencyS).toBe(LARGE_SUB_ROOM_TARGET_S);
    expect(effectiveLiveSync(S, 'normal', true, 800).seekAboveS).toBe(LARGE_SUB_ROOM_TARGET_S + 6);
    expect(effectiveLiveSync(S, 'low', true, 800)).toEqual(S);
    expect(effectiveLiveSync(S, 'normal', false, 800)).toEqual(S);
    expect(effectiveLiveSync({ ...S, targetLatencyS: 12 }, 'normal', true, 800).targetLatencyS).toBe(12);
  });
});

describe('latency from the timeline', () => {
  const tl: Timeline = {
    sessionId: 'abcdefgh',
    firstTs: 10_000,
    burstEndTs: null,
    keyframes: [],
    anchors: [
      { ts: 9_000, originTime: 1_000_000 },
      { ts: 10_000, originTime: 1_001_010 },
      { ts: 11_000, originTime: 1_002_000 },
    ],
    clockOffsetMs: 0,
    liveSync: S,
  };

  it('uses the last anchor at or before the frame', () => {
    expect(frameOriginTime(tl, 0)).toBe(1_001_010);
    expect(frameOriginTime(tl, 0.5)).toBe(1_001_510);
    expect(frameOriginTime(tl, 1)).toBe(1_002_000);
    expect(frameOriginTime(tl, 1.25)).toBe(1_002_250);
  });

  it('extrapolates from the oldest anchor for frames before it', () => {
    expect(frameOriginTime({ ...tl, anchors: tl.anchors.slice(2) }, 0.5)).toBe(1_001_500);
  });

  it('latency = now + clock offset − origin time of the frame', () => {
    expect(latencyBehindLiveS(tl, 0.5, 1_002_010)).toBeCloseTo(0.5, 6);
    expect(latencyBehindLiveS({ ...tl, clockOffsetMs: 250 }, 0.5, 1_002_010)).toBeCloseTo(0.75, 6);
  });

  it('is null without a timeline or anchors', () => {
    expect(latencyBehindLiveS(null, 1, 5)).toBeNull();
    expect(latencyBehindLiveS({ ...tl, anchors: [] }, 1, 5)).toBeNull();
  });
});
