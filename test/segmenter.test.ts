/**
 * Segmenting the committed demo clip: init extraction, ~1 s segments, keyframe offsets,
 * hashes, and a continuous timeline across loop restarts and publisher changes.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  FlvDemuxer,
  type FlvTag,
  isAacSequenceHeader,
  isAvcSequenceHeader,
  isOnMetaData,
  isVideoKeyframe,
  parseFlv,
  TAG_AUDIO,
  TAG_VIDEO,
} from '../common/flv';
import { manifestSchema } from '../common/manifest';
import { sha256Hex } from '../common/sha256';
import { silentLogger } from '../server/log';
import { Channel } from '../server/origin/channel';
import { type DemoClip, loadDemoClip, startDemoLoop } from '../server/origin/demo-source';
import { type InitData, type Segment, Segmenter } from '../server/origin/segmenter';
import { concatBytes, DEMO_FLV } from './support/helpers';

let clip: DemoClip;
let clipTags: FlvTag[];

beforeAll(async () => {
  clip = await loadDemoClip(DEMO_FLV);
  const { readFile } = await import('node:fs/promises');
  clipTags = parseFlv(await readFile(DEMO_FLV));
});

/** Writes the clip `loops` times the way the demo loop does: headers once, then each loop shifted by its length. */
function feedLoops(write: (tag: FlvTag) => void, loops: number, from = 0): void {
  for (const h of clip.headers) write({ ...h, timestamp: 0 });
  for (let loop = 0; loop < loops; loop++) {
    for (const f of clip.frames.slice(loop === 0 ? from : 0)) {
      write({ ...f, timestamp: loop * clip.loopMs + f.timestamp });
    }
  }
}

function segmentTags(s: { data: Uint8Array }): FlvTag[] {
  return parseFlv(s.data, { headerless: true });
}

/** Checks that consecutive segments tile the timeline and that each track's timestamps only go forward. */
function expectContinuous(segments: readonly Segment[], maxGapMs: number, maxAudioStepMs = 2 * 22): void {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const cur = segments[i]!;
    const end = prev.startTs + prev.durationMs;
    expect(cur.seq, 'seqs are consecutive').toBe(prev.seq + 1);
    expect(cur.startTs, `segment ${cur.seq} must not overlap ${prev.seq}`).toBeGreaterThanOrEqual(end - 1);
    expect(cur.startTs - end, `gap before segment ${cur.seq}`).toBeLessThanOrEqual(maxGapMs);
  }
  const last: Record<number, number> = {};
  const biggestStep: Record<number, number> = { [TAG_AUDIO]: 0, [TAG_VIDEO]: 0 };
  for (const s of segments) {
    for (const t of segmentTags(s)) {
      const prev = last[t.type];
      if (prev !== undefined) {
        if (t.type === TAG_VIDEO) expect(t.timestamp, `video in segment ${s.seq}`).toBeGreaterThan(prev);
        else expect(t.timestamp, `audio in segment ${s.seq}`).toBeGreaterThanOrEqual(prev);
        biggestStep[t.type] = Math.max(biggestStep[t.type]!, t.timestamp - prev);
      }
      last[t.type] = t.timestamp;
    }
  }
  // 25 fps video and 48 kHz AAC: the widest step (at a loop restart) stays within a few frames.
  expect(biggestStep[TAG_VIDEO]).toBeLessThanOrEqual(3 * 40);
  expect(biggestStep[TAG_AUDIO]).toBeLessThanOrEqual(maxAudioStepMs);
}

function expectKeyframeOffsetRight(s: Segment): void {
  const tags = segmentTags(s);
  let offset = 0;
  let first: { offset: number; ts: number } | null = null;
  for (const t of tags) {
    if (isVideoKeyframe(t)) {
      first = { offset, ts: t.timestamp };
      break;
    }
    offset += 11 + t.data.length + 4;
  }
  expect(s.keyframeOffset, `keyframe offset of segment ${s.seq}`).toBe(first?.offset ?? null);
  expect(s.keyframeTs).toBe(first?.ts ?? null);
  if (s.keyframeOffset !== null) {
    const [atOffset] = parseFlv(s.data.subarray(s.keyframeOffset), { headerless: true });
    expect(atOffset && isVideoKeyframe(atOffset)).toBe(true);
  }
}

describe('Segmenter on the demo clip', () => {
  const LOOPS = 3;
  let inits: InitData[];
  let segments: Segment[];
  let segmenter: Segmenter;

  beforeAll(() => {
    inits = [];
    segments = [];
    segmenter = new Segmenter({ onInit: (i) => inits.push(i), onSegment: (s) => segments.push(s) });
    // Wall clock = media time, so originTime is checkable.
    feedLoops((t) => segmenter.push(t, 1_700_000_000_000 + t.timestamp), LOOPS);
    segmenter.flush();
  });

  it('the clip is what the demo needs: H.264 + AAC, 2 s GOP, about 20 s', () => {
    expect(clip.headers.some(isOnMetaData)).toBe(true);
    expect(clip.headers.some(isAvcSequenceHeader)).toBe(true);
    expect(clip.headers.some(isAacSequenceHeader)).toBe(true);
    const keyframes = clip.frames.filter(isVideoKeyframe).map((t) => t.timestamp);
    expect(keyframes.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < keyframes.length; i++) expect(keyframes[i]! - keyframes[i - 1]!).toBe(2000);
    expect(clip.loopMs).toBeGreaterThan(15_000);
    expect(clip.loopMs).toBeLessThan(25_000);
  });

  it('extracts one init: FLV header + onMetaData + AVC and AAC sequence headers', () => {
    expect(inits).toHaveLength(1);
    const init = inits[0]!;
    expect(init.version).toBe(1);
    expect(init.hasAudio && init.hasVideo).toBe(true);
    expect(init.sha256).toBe(sha256Hex(init.data));
    const d = new FlvDemuxer();
    const tags = d.push(init.data);
    expect(d.pendingBytes).toBe(0);
    expect(d.hasAudio && d.hasVideo).toBe(true);
    expect(tags).toHaveLength(3);
    expect(isOnMetaData(tags[0]!)).toBe(true);
    expect(isAvcSequenceHeader(tags[1]!)).toBe(true);
    expect(isAacSequenceHeader(tags[2]!)).toBe(true);
    const clipAvc = clipTags.find(isAvcSequenceHeader)!;
    expect(Buffer.compare(tags[1]!.data, clipAvc.data)).toBe(0);
    expect(tags.every((t) => t.timestamp === 0)).toBe(true);
  });

  it('cuts ~1 s segments of whole tags with the right hash and size', () => {
    const expected = (LOOPS * clip.loopMs) / 1000;
    expect(segments.length).toBeGreaterThanOrEqual(expected - 2);
    expect(segments.length).toBeLessThanOrEqual(expected + 2);
    for (const [i, s] of segments.entries()) {
      expect(s.seq).toBe(i);
      expect(s.initVersion).toBe(1);
      expect(s.sha256).toBe(sha256Hex(s.data));
      expect(segmentTags(s).length).toBeGreaterThan(10);
      if (i < segments.length - 1) {
        expect(s.durationMs, `duration of segment ${i}`).toBeGreaterThanOrEqual(500);
        expect(s.durationMs, `duration of segment ${i}`).toBeLessThanOrEqual(1100);
      }
    }
    const total = segments.reduce((n, s) => n + s.durationMs, 0);
    expect(total / segments.length).toBeGreaterThan(950);
    expect(total / segments.length).toBeLessThan(1050);
  });

  it('records the offset of the first video keyframe (or none)', () => {
    for (const s of segments) expectKeyframeOffsetRight(s);
    expect(segments[0]!.keyframeOffset).toBe(0); // the stream starts on a keyframe
    const withKeyframe = segments.filter((s) => s.keyframeOffset !== null).length;
    // 2 s GOP and 1 s segments: about every other segment holds a keyframe.
    expect(withKeyframe / segments.length).toBeGreaterThan(0.4);
    expect(withKeyframe / segments.length).toBeLessThan(0.6);
  });

  it('keeps timestamps continuous across loop restarts', () => {
    expectContinuous(segments, 0);
    // The segments cover every loop, end to end.
    const last = segments.at(-1)!;
    expect(segments[0]!.startTs).toBeLessThan(100);
    expect(Math.abs(last.startTs + last.durationMs - LOOPS * clip.loopMs)).toBeLessThanOrEqual(50);
  });

  it('stamps each segment with the wall-clock arrival of its first tag', () => {
    for (const s of segments) expect(s.originTime).toBe(1_700_000_000_000 + s.startTs);
  });

  it('gives the same segments whatever the pushes look like (deterministic)', () => {
    const again: Segment[] = [];
    const s2 = new Segmenter({ onInit: () => {}, onSegment: (s) => again.push(s) });
    feedLoops((t) => s2.push(t, 1_700_000_000_000 + t.timestamp), LOOPS);
    s2.flush();
    expect(again.map((s) => s.sha256)).toEqual(segments.map((s) => s.sha256));
  });
});

describe('Segmenter edge cases', () => {
  it('a publisher that starts mid-GOP is cut from its first keyframe', () => {
    const segments: Segment[] = [];
    const seg = new Segmenter({ onInit: () => {}, onSegment: (s) => segments.push(s) });
    const from = clip.frames.findIndex((t) => t.type === TAG_VIDEO && t.timestamp > 500);
    feedLoops((t) => seg.push(t, 0), 1, from);
    seg.flush();
    expect(seg.droppedTags).toBeGreaterThan(0);
    expect(segments[0]!.keyframeOffset).toBe(0);
    expect(isVideoKeyframe(segmentTags(segments[0]!)[0]!)).toBe(true);
  });

  it('a changed sequence header starts a new init version and a new segment', () => {
    const inits: InitData[] = [];
    const segments: Segment[] = [];
    const seg = new Segmenter({ onInit: (i) => inits.push(i), onSegment: (s) => segments.push(s) });
    feedLoops((t) => seg.push(t, 0), 1);
    const before = segments.length;
    const avc = clip.headers.find(isAvcSequenceHeader)!;
    const changed = new Uint8Array(avc.data); // a copy
    changed[changed.length - 1] = changed[changed.length - 1]! ^ 1;
    seg.push({ ...avc, data: changed, timestamp: clip.loopMs }, 0);
    for (const f of clip.frames) seg.push({ ...f, timestamp: clip.loopMs + f.timestamp }, 0);
    seg.flush();
    expect(inits.map((i) => i.version)).toEqual([1, 2]);
    expect(segments.length).toBeGreaterThan(before + 15);
    // The open segment was closed before the new init; everything after uses version 2.
    expect(segments[before]!.initVersion).toBe(1);
    expect(segments.slice(before + 1).every((s) => s.initVersion === 2)).toBe(true);
    expect(segments[before + 1]!.keyframeOffset).toBe(0);
    // Sending the same header again changes nothing.
    seg.push({ ...avc, data: changed, timestamp: 2 * clip.loopMs }, 0);
    expect(inits).toHaveLength(2);
  });

  it('forces a cut past maxSegmentBytes', () => {
    const segments: Segment[] = [];
    const seg = new Segmenter({
      maxSegmentBytes: 40_000,
      onInit: () => {},
      onSegment: (s) => segments.push(s),
    });
    feedLoops((t) => seg.push(t, 0), 1);
    seg.flush();
    const biggestTag = Math.max(...clip.frames.map((t) => t.data.length + 15));
    for (const s of segments) expect(s.data.length).toBeLessThanOrEqual(Math.max(40_000, biggestTag));
    expect(segments.length).toBeGreaterThan(40);
  });

  it('drops media before any sequence header', () => {
    const seg = new Segmenter({ onInit: () => {}, onSegment: () => {} });
    for (const f of clip.frames.slice(0, 10)) seg.push(f, 0);
    expect(seg.droppedTags).toBe(10);
    expect(seg.currentInit).toBeNull();
  });
});

describe('Channel timeline', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the real demo loop keeps a continuous timeline over 2+ loops (fake clock)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    const ch = new Channel({ id: 'demo', demo: true, windowSize: 1000, log: silentLogger() });
    const sink = ch.publish('demo');
    if (typeof sink === 'string') throw new Error(sink);
    const loop = startDemoLoop(clip, sink);
    const t0 = Date.now();
    vi.advanceTimersByTime(2 * clip.loopMs + 5000);
    // Paced at real time: segments exist for about the time that passed, no more.
    const media = ch.segments.at(-1)!.startTs + ch.segments.at(-1)!.durationMs;
    expect(media).toBeLessThanOrEqual(2 * clip.loopMs + 5000);
    expect(media).toBeGreaterThan(2 * clip.loopMs + 3000);
    for (const s of ch.segments) expect(Math.abs(s.originTime - (t0 + s.startTs))).toBeLessThanOrEqual(60);
    loop.stop();
    expect(ch.live).toBe(false);
    expectContinuous(ch.segments, 0);
    for (const s of ch.segments) expectKeyframeOffsetRight(s);
    expect(manifestSchema.safeParse(ch.manifest()).success).toBe(true);
  });

  it('a new publisher continues the timeline where the last one stopped', () => {
    let now = 1_700_000_000_000;
    const ch = new Channel({ id: 'cam', windowSize: 1000, log: silentLogger(), now: () => now });
    const first = ch.publish('test');
    if (typeof first === 'string') throw new Error(first);
    expect(ch.publish('other')).toMatch(/already has a publisher/);
    feedLoops((t) => {
      now = 1_700_000_000_000 + t.timestamp;
      first.write(t);
    }, 1);
    const endOfFirst = ch.segments.length;
    first.end('test over');
    expect(ch.segments.length).toBe(endOfFirst + 1); // the open segment was closed
    expect(ch.live).toBe(false);
    first.write(clip.frames[0]!); // a stale publisher writes nothing
    expect(ch.segments.length).toBe(endOfFirst + 1);

    // A reconnecting encoder starts its own timestamps again near 0 (here: the raw clip).
    const second = ch.publish('test');
    if (typeof second === 'string') throw new Error(second);
    for (const t of clipTags) second.write(t);
    second.end('done');

    // The new publisher's audio before its first keyframe is dropped, so audio has a short gap.
    expectContinuous(ch.segments, 100, 100);
    const m = manifestSchema.parse(ch.manifest());
    expect(m.inits.map((i) => i.version)).toEqual([1]); // same headers: same init
    expect(m.segments.length).toBe(ch.segments.length);
    expect(m.live).toBe(false);
  });

  it('keeps a window of segments and streams the live-edge segment as it grows', () => {
    const ch = new Channel({ id: 'win', windowSize: 5, log: silentLogger() });
    const sink = ch.publish('test');
    if (typeof sink === 'string') throw new Error(sink);
    for (const h of clip.headers) sink.write(h);
    let i = 0;
    const writeUntil = (cond: () => boolean) => {
      while (!cond()) sink.write(clip.frames[i++]!);
    };
    writeUntil(() => (ch.latestSeq ?? -1) >= 11);
    expect(ch.segments.map((s) => s.seq)).toEqual([7, 8, 9, 10, 11]);
    expect(ch.getSegment(6)).toBeUndefined();
    expect(ch.getSegment(12)).toBeUndefined();
    expect(ch.getSegment(9)?.seq).toBe(9);

    const chunks: Uint8Array[] = [];
    let ended = false;
    expect(ch.followPartial(13, { data: () => {}, end: () => {} })).toBeNull();
    const follow = ch.followPartial(12, { data: (c) => chunks.push(c), end: () => (ended = true) });
    expect(follow).not.toBeNull();
    chunks.unshift(...follow!.chunks);
    writeUntil(() => ch.latestSeq === 12);
    expect(ended).toBe(true);
    const seg12 = ch.getSegment(12)!;
    expect(follow!.startTs).toBe(seg12.startTs);
    expect(sha256Hex(concatBytes(chunks))).toBe(seg12.sha256);
  });

  it('wakes blocking waiters when the segment exists, on publisher end, and on timeout', async () => {
    const ch = new Channel({ id: 'wait', log: silentLogger() });
    const sink = ch.publish('test');
    if (typeof sink === 'string') throw new Error(sink);
    for (const h of clip.headers) sink.write(h);
    const waiting = ch.waitForSegmentAfter(-1, 10_000);
    let i = 0;
    while (ch.latestSeq === null) sink.write(clip.frames[i++]!);
    await expect(waiting).resolves.toBe(true);
    await expect(ch.waitForSegmentAfter(-1, 10)).resolves.toBe(true); // already there
    await expect(ch.waitForSegmentAfter(0, 20)).resolves.toBe(false); // timeout
    const abort = new AbortController();
    const aborted = ch.waitForSegmentAfter(0, 10_000, abort.signal);
    abort.abort();
    await expect(aborted).resolves.toBe(false);
    const pending = ch.waitForSegmentAfter(5, 10_000);
    sink.end('bye');
    await expect(pending).resolves.toBe(false);
  });
});
