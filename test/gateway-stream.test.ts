/**
 * GatewayStream: one player's continuous FLV, read from a real segment cache under a fake
 * channel timeline, into a sink that collects bytes. Segment n holds media n*1000 .. n*1000+900
 * (a keyframe, then inter frames and AAC frames every 100 ms). Timers are fake: the gap check
 * runs every 250 ms of fake time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  encodeFlvHeader,
  encodeTags,
  type FlvTag,
  isAvcSequenceHeader,
  isMediaFrame,
  parseFlv,
  TAG_AUDIO,
  TAG_VIDEO,
} from '../common/flv';
import type { SegmentEntry } from '../common/manifest';
import { MemorySegmentCache } from '../main/core/cache/segment-cache';
import {
  type ChannelTimeline,
  GAP_CHECK_MS,
  GatewayStream,
  type GatewayStreamOptions,
  type StreamSink,
} from '../main/core/gateway/gateway-stream';
import { memoryLog } from './support/memory-log';

const tag = (type: FlvTag['type'], timestamp: number, ...data: number[]): FlvTag => ({
  type,
  timestamp,
  data: new Uint8Array([...data, 0, 0, 0, 1, 2, 3]),
});
const avcHeader = (version: number) => tag(TAG_VIDEO, 0, 0x17, 0x00, version);

function initBytes(version: number): Uint8Array {
  const tags = encodeTags([avcHeader(version), tag(TAG_AUDIO, 0, 0xaf, 0x00, 0x12, 0x10)]);
  return Buffer.concat([encodeFlvHeader(true, true), tags]);
}

/** Ten video frames 100 ms apart, each with an AAC frame; the first is a keyframe if `keyframe`. */
function segmentBytes(startTs: number, keyframe = true): Uint8Array {
  const tags: FlvTag[] = [];
  for (let i = 0; i < 10; i++) {
    const ts = startTs + i * 100;
    tags.push(i === 0 && keyframe ? tag(TAG_VIDEO, ts, 0x17, 0x01) : tag(TAG_VIDEO, ts, 0x27, 0x01));
    tags.push(tag(TAG_AUDIO, ts, 0xaf, 0x01));
  }
  return encodeTags(tags);
}

class FakeTimeline implements ChannelTimeline {
  latestSeq: number | null = null;
  liveEdgeSeq: number | null = null;
  readonly entries = new Map<number, SegmentEntry>();
  readonly inits = new Map<number, Uint8Array>([[1, initBytes(1)]]);
  readonly lost = new Set<number>();
  readonly fetching = new Set<number>();
  private readonly listeners = new Set<() => void>();

  entry = (seq: number) => this.entries.get(seq);
  init = (version: number) => this.inits.get(version);
  initVersionOf = (seq: number) => this.entries.get(seq)?.initVersion ?? null;
  isLost = (seq: number) => this.lost.has(seq);
  isFetching = (seq: number) => this.fetching.has(seq);
  onChange(listener: () => void) {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
  changed() {
    for (const l of this.listeners) l();
  }
}

class FakeSink implements StreamSink {
  readonly chunks: Uint8Array[] = [];
  pending = 0;
  ended = false;
  /** Keeps the views it is given, as a socket's write queue does until it has sent them. */
  write = (bytes: Uint8Array) => void this.chunks.push(bytes);
  backlog = () => this.pending;
  end() {
    this.ended = true;
  }
  get bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.chunks));
  }
  tags = (): FlvTag[] => parseFlv(this.bytes);
  /** Timestamps of the video frames received (not headers). */
  videoTs(): number[] {
    return this.tags()
      .filter((t) => t.type === TAG_VIDEO && isMediaFrame(t))
      .map((t) => t.timestamp);
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: (to - from) / 100 + 1 }, (_, i) => from + i * 100);

let streams: GatewayStream[] = [];

function setup(opts: Partial<GatewayStreamOptions> = {}) {
  const timeline = new FakeTimeline();
  const cache = new MemorySegmentCache(64 * 1024 * 1024);
  const sink = new FakeSink();
  const starts: number[] = [];
  const skipped: number[] = [];
  /** Lists segment `seq` in the timeline and, unless `store` is false, puts it in the cache. */
  const add = (seq: number, o: { initVersion?: number; keyframe?: boolean; store?: boolean } = {}) => {
    const bytes = segmentBytes(seq * 1000, o.keyframe ?? true);
    timeline.entries.set(seq, {
      seq,
      initVersion: o.initVersion ?? 1,
      startTs: seq * 1000,
      durationMs: 1000,
      size: bytes.length,
      sha256: '0'.repeat(64),
      keyframeOffset: (o.keyframe ?? true) ? 0 : null,
      originTime: 0,
    });
    timeline.latestSeq = Math.max(timeline.latestSeq ?? -1, seq);
    timeline.changed();
    if (o.store ?? true) cache.put(seq, bytes, 'cdn');
  };
  const open = () => {
    const stream = new GatewayStream(timeline, cache, sink, memoryLog(), {
      readerId: 'player-1',
      onStart: (ts) => starts.push(ts),
      onSkip: (ms) => skipped.push(ms),
      ...opts,
    });
    streams.push(stream);
    return stream;
  };
  return { timeline, cache, sink, starts, skipped, add, open };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const s of streams) s.close();
  streams = [];
  vi.useRealTimers();
});

describe('GatewayStream: start', () => {
  const cases: Array<[number | undefined, number]> = [
    [undefined, 3000], // default 500 ms: the newest keyframe leaves 900 ms
    [0, 3000],
    [900, 3000],
    [901, 2000],
    [1500, 2000],
    [2900, 1000],
    [3900, 0],
    [10_000, 3000], // no keyframe leaves that much: the newest
  ];
  it.each(cases)('minStartBufferMs %s starts at the keyframe at %i ms', (minStartBufferMs, startTs) => {
    const h = setup({ minStartBufferMs });
    for (const seq of [0, 1, 2, 3]) h.add(seq);
    const stream = h.open();
    expect(stream.isStarted).toBe(true);
    expect(h.starts).toEqual([startTs]);
    expect(h.sink.bytes.subarray(0, 13)).toEqual(encodeFlvHeader(true, true));
    const tags = h.sink.tags();
    // Init tags, stamped with the start time, then the media from the keyframe on.
    expect(tags.slice(0, 2).map((t) => [t.type, t.timestamp, t.data[1]])).toEqual([
      [TAG_VIDEO, startTs, 0x00],
      [TAG_AUDIO, startTs, 0x00],
    ]);
    expect(tags[2]!.data[0]).toBe(0x17);
    expect(h.sink.videoTs()).toEqual(range(startTs, 3900));
    expect(stream.bytesWritten).toBe(h.sink.bytes.length);
  });

  it('tells each keyframe it writes, at its written timestamp (where a paused standby can sit)', () => {
    const keyframes: number[] = [];
    const h = setup({ minStartBufferMs: 1500, onKeyframe: (ts) => keyframes.push(ts) });
    for (const seq of [0, 1, 2, 3]) h.add(seq);
    h.open();
    // From the start keyframe (2000) on; none before it is written, so none is told.
    expect(keyframes).toEqual([2000, 3000]);
    h.add(4, { keyframe: false });
    h.add(5);
    expect(keyframes).toEqual([2000, 3000, 5000]);
  });

  it('waits for init data and a keyframe before writing anything', () => {
    const h = setup();
    h.timeline.inits.clear();
    h.add(0, { keyframe: false });
    const stream = h.open();
    h.add(1);
    expect(stream.isStarted).toBe(false);
    expect(h.sink.chunks).toEqual([]);
    h.timeline.inits.set(1, initBytes(1));
    h.timeline.changed();
    expect(stream.isStarted).toBe(true);
    expect(h.starts).toEqual([1000]);
    expect(h.sink.videoTs()).toEqual(range(1000, 1900));
  });
});

describe('GatewayStream: streaming', () => {
  it('streams later segments in order as they arrive, whole tags only', () => {
    const h = setup();
    h.add(0);
    h.open();
    h.add(1);
    h.add(2);
    expect(h.sink.videoTs()).toEqual(range(0, 2900));
    // The live edge streaming from the CDN: readable before it is verified, tag by tag.
    h.add(3, { store: false });
    const live = segmentBytes(3000);
    h.cache.begin(3, 'cdn', true);
    h.cache.append(3, live.subarray(0, 100));
    expect(() => h.sink.tags()).not.toThrow();
    h.cache.append(3, live.subarray(100));
    expect(h.sink.videoTs()).toEqual(range(0, 3900));
    h.cache.finish(3, true);
    // A peer's copy is not played before it is verified.
    h.add(4, { store: false });
    h.cache.begin(4, 'p2p');
    h.cache.append(4, segmentBytes(4000));
    expect(h.sink.videoTs()).toEqual(range(0, 3900));
    h.cache.finish(4, true);
    expect(h.sink.videoTs()).toEqual(range(0, 4900));
  });

  it('writes copies: what the player has not read yet survives the cache freeing the segment', () => {
    const h = setup();
    h.add(0);
    h.open();
    h.add(1);
    const written = h.sink.videoTs();
    expect(written).toEqual(range(0, 1900));
    h.cache.setHorizon(5); // both left the window, the reader has passed 0: freed
    expect(h.cache.has(0)).toBe(false);
    expect(h.sink.videoTs()).toEqual(written);
  });

  it('writes a new init version before the first segment that needs it', () => {
    const h = setup();
    h.timeline.inits.set(2, initBytes(2));
    h.add(0);
    h.open();
    h.add(1);
    h.add(2, { initVersion: 2 });
    h.add(3, { initVersion: 2 });
    const tags = h.sink.tags();
    const headers = tags.filter(isAvcSequenceHeader).map((t) => [t.timestamp, t.data[2]]);
    expect(headers).toEqual([
      [0, 1],
      [2000, 2],
    ]);
    const i = tags.findIndex((t) => isAvcSequenceHeader(t) && t.data[2] === 2);
    expect(tags[i - 1]!.timestamp).toBe(1900);
    expect(tags[i + 1]).toMatchObject({ type: TAG_AUDIO, timestamp: 2000 });
    expect(tags[i + 2]).toMatchObject({ type: TAG_VIDEO, timestamp: 2000 });
    expect(tags[i + 2]!.data[0]).toBe(0x17);
    expect(h.sink.videoTs()).toEqual(range(0, 3900));
  });

  it('skips a lost segment to the next keyframe and reports the skipped media time', () => {
    const h = setup();
    h.add(0);
    const stream = h.open();
    h.timeline.lost.add(1);
    h.add(1, { store: false });
    h.add(2, { keyframe: false });
    h.add(3);
    expect(h.sink.videoTs()).toEqual(range(0, 900));
    vi.advanceTimersByTime(GAP_CHECK_MS);
    expect(stream.skips).toBe(1);
    expect(h.skipped).toEqual([3000 - 900]);
    expect(h.sink.videoTs()).toEqual([...range(0, 900), ...range(3000, 3900)]);
  });

  /** Seg 0 played, seg 1 streaming from the CDN and partly written, then found corrupt. */
  function corruptMidway(h: ReturnType<typeof setup>) {
    h.add(0);
    h.open();
    h.add(1, { store: false });
    h.cache.begin(1, 'cdn', true);
    h.cache.append(1, segmentBytes(1000).subarray(0, 200));
    const written = h.sink.videoTs();
    expect(written.at(-1)).toBeGreaterThanOrEqual(1000);
    return written;
  }

  it('skips a segment found corrupt after part of it was written', () => {
    const h = setup();
    const written = corruptMidway(h);
    h.add(2);
    h.cache.drop(1, 'hash mismatch');
    // The refetched copy arrives: the player already has part of the bad one, so skip.
    h.cache.begin(1, 'cdn', true);
    h.cache.append(1, segmentBytes(1000));
    expect(h.skipped).toEqual([2000 - written.at(-1)!]);
    expect(h.sink.videoTs()).toEqual([...written, ...range(2000, 2900)]);
  });

  // A tainted stream waits for the next keyframe wherever it lands, not for the gap timer.
  it('skips a corrupt segment as soon as the next keyframe reaches the cache', () => {
    const h = setup();
    const written = corruptMidway(h);
    h.cache.drop(1, 'hash mismatch');
    h.add(2);
    expect(h.sink.videoTs()).toEqual([...written, ...range(2000, 2900)]);
  });

  const gaps: Array<[string, { fetching: boolean; newer: boolean }, number, boolean]> = [
    ['nobody fetches it: waits gapTimeoutMs', { fetching: false, newer: true }, 1000, false],
    ['nobody fetches it: skipped after gapTimeoutMs', { fetching: false, newer: true }, 1250, true],
    ['a source fetches it: waits past gapTimeoutMs', { fetching: true, newer: true }, 3750, false],
    ['a source fetches it: waits 4× gapTimeoutMs', { fetching: true, newer: true }, 4000, false],
    ['a hung fetch: skipped after 4× gapTimeoutMs', { fetching: true, newer: true }, 4250, true],
    ['nothing newer to skip to: waits', { fetching: false, newer: false }, 20_000, false],
  ];
  it.each(gaps)('missing segment, %s', (_name, { fetching, newer }, advanceMs, skips) => {
    const h = setup({ gapTimeoutMs: 1000 });
    h.add(0);
    const stream = h.open();
    h.add(1, { store: false });
    if (fetching) h.timeline.fetching.add(1);
    if (newer) h.add(2);
    vi.advanceTimersByTime(advanceMs);
    expect(stream.skips).toBe(skips ? 1 : 0);
    expect(h.sink.videoTs()).toEqual(skips ? [...range(0, 900), ...range(2000, 2900)] : range(0, 900));
    expect(h.skipped).toEqual(skips ? [1100] : []);
  });

  it('closes itself when the player stops reading', () => {
    const h = setup({ maxBacklogBytes: 1000 });
    const pin = vi.spyOn(h.cache, 'setReaderPosition');
    h.add(0);
    h.open();
    expect(pin).toHaveBeenLastCalledWith('player-1', 0);
    h.sink.pending = 1001;
    const before = h.sink.bytes.length;
    h.add(1);
    h.add(2);
    expect(h.sink.ended).toBe(true);
    expect(h.sink.bytes.length).toBe(before);
    expect(pin).toHaveBeenLastCalledWith('player-1', null);
    expect(vi.getTimerCount()).toBe(0);
  });
});
