/**
 * MemorySegmentCache: segments filled in pieces or put whole, readable up to whole FLV tags,
 * events to subscribers, and a byte budget that evicts finished segments no reader still
 * needs, oldest first.
 */
import { describe, expect, it } from 'vitest';
import { encodeTags, type FlvTag, TAG_VIDEO } from '../common/flv';
import { freeNow, MemorySegmentCache } from '../main/core/cache/segment-cache';

const frame = (timestamp: number, size: number): FlvTag => ({
  type: TAG_VIDEO,
  timestamp,
  data: new Uint8Array(size).fill(0x27),
});

/** Three tags of 11 + body + 4 bytes: ends at 25, 65 and 140. */
const THREE_TAGS = encodeTags([frame(0, 10), frame(40, 25), frame(80, 60)]);
const BOUNDARIES = [0, 25, 65, 140];

/** A cache and the events it emitted, as `update:seq` / `drop:seq:reason` strings. */
function recorded(budget = 1 << 20, keepNewest = 0) {
  const cache = new MemorySegmentCache(budget, keepNewest);
  const events: string[] = [];
  const unsubscribe = cache.subscribe({
    onUpdate: (seq) => events.push(`update:${seq}`),
    onDrop: (seq, reason) => events.push(`drop:${seq}:${reason}`),
  });
  return { cache, events, unsubscribe };
}

const bytes = (n: number) => new Uint8Array(n).fill(1);

describe('MemorySegmentCache: filling a segment', () => {
  const cuts: Array<[string, number[]]> = [
    ['one chunk', [140]],
    ['cut on tag boundaries', [25, 65, 140]],
    ['cut inside tag headers', [5, 30, 70, 140]],
    ['cut inside tag bodies and PreviousTagSize', [20, 24, 26, 64, 100, 139, 140]],
    ['byte by byte', Array.from({ length: 140 }, (_, i) => i + 1)],
  ];
  it.each(cuts)('tagEnd advances over whole tags only: %s', (_name, ends) => {
    const { cache, events } = recorded();
    cache.begin(3, 'cdn', true);
    let from = 0;
    let updates = 0;
    let lastTagEnd = 0;
    for (const end of ends) {
      cache.append(3, THREE_TAGS.subarray(from, end));
      from = end;
      const c = cache.get(3)!;
      const expected = Math.max(...BOUNDARIES.filter((b) => b <= end));
      expect(c.tagEnd).toBe(expected);
      expect(c.bytes).toEqual(THREE_TAGS.subarray(0, end));
      if (c.tagEnd !== lastTagEnd) updates++;
      lastTagEnd = c.tagEnd;
    }
    // An update for each advance of tagEnd, none for bytes that complete no tag.
    expect(events).toEqual(Array(updates).fill('update:3'));
    expect(cache.totalBytes).toBe(140);
    expect(cache.get(3)!.complete).toBe(false);
  });

  const finishes: Array<[string, boolean, boolean]> = [
    // name, streamable, verified at finish
    ['live edge from the CDN, hash matched', true, true],
    ['live edge from the CDN, hash mismatch', true, false],
    ['from a peer, hash matched', false, true],
    ['from a peer, hash mismatch', false, false],
  ];
  it.each(finishes)('verified and streamable flags: %s', (_name, streamable, verified) => {
    const { cache, events } = recorded();
    cache.begin(1, streamable ? 'cdn' : 'p2p', streamable);
    cache.append(1, THREE_TAGS);
    expect(cache.get(1)).toMatchObject({ complete: false, verified: false, streamable });
    cache.finish(1, verified);
    expect(cache.get(1)).toMatchObject({ complete: true, verified, streamable, tagEnd: 140 });
    expect(events).toEqual(['update:1', 'update:1']);
  });

  it('put stores a whole verified segment, not streamable, with its source', () => {
    const { cache, events } = recorded();
    cache.put(9, THREE_TAGS, 'seed');
    expect(cache.get(9)).toEqual({
      seq: 9,
      bytes: THREE_TAGS,
      tagEnd: 140,
      complete: true,
      verified: true,
      source: 'seed',
      streamable: false,
    });
    expect(cache.has(9)).toBe(true);
    expect(events).toEqual(['update:9']);
  });

  it('ignores appends to unknown or finished segments and finish of unknown ones', () => {
    const { cache, events } = recorded();
    cache.append(1, THREE_TAGS);
    cache.finish(1, true);
    expect(cache.has(1)).toBe(false);
    cache.begin(2, 'cdn');
    cache.append(2, THREE_TAGS);
    cache.finish(2, true);
    cache.append(2, THREE_TAGS);
    expect(cache.get(2)!.bytes.length).toBe(140);
    expect(cache.totalBytes).toBe(140);
    expect(events).toEqual(['update:2', 'update:2']);
  });

  it('begin again discards what the earlier attempt left', () => {
    const { cache } = recorded();
    cache.begin(4, 'p2p');
    cache.append(4, THREE_TAGS.subarray(0, 100));
    cache.begin(4, 'cdn', true);
    expect(cache.get(4)).toMatchObject({ source: 'cdn', streamable: true, tagEnd: 0, complete: false });
    expect(cache.get(4)!.bytes.length).toBe(0);
    expect(cache.totalBytes).toBe(0);
  });

  it('grows past its initial capacity without losing bytes', () => {
    const big = encodeTags([frame(0, 50_000), frame(40, 50_000), frame(80, 50_000)]);
    const { cache } = recorded();
    cache.begin(1, 'cdn', true);
    for (let p = 0; p < big.length; p += 7000) cache.append(1, big.subarray(p, p + 7000));
    expect(Buffer.compare(cache.get(1)!.bytes, big)).toBe(0);
    expect(cache.get(1)!.tagEnd).toBe(big.length);
  });
});

describe('MemorySegmentCache: drop and subscriptions', () => {
  it('drop removes the bytes and tells onDrop the reason; unknown seqs are no-ops', () => {
    const { cache, events } = recorded();
    cache.put(1, bytes(100), 'cdn');
    cache.drop(1, 'hash mismatch');
    cache.drop(1, 'again');
    cache.drop(7, 'never there');
    expect(cache.has(1)).toBe(false);
    expect(cache.get(1)).toBeUndefined();
    expect(cache.totalBytes).toBe(0);
    expect(events).toEqual(['update:1', 'drop:1:hash mismatch']);
  });

  it('unsubscribe stops the events; listeners without onDrop are fine', () => {
    const { cache, events, unsubscribe } = recorded();
    const updates: number[] = [];
    cache.subscribe({ onUpdate: (seq) => updates.push(seq) });
    unsubscribe();
    cache.put(1, bytes(10), 'cdn');
    cache.drop(1, 'x');
    expect(events).toEqual([]);
    expect(updates).toEqual([1]);
  });
});

describe('MemorySegmentCache: byte budget', () => {
  /** Puts segments of 100 bytes each at the given seqs. */
  const fill = (cache: MemorySegmentCache, seqs: number[]) => {
    for (const s of seqs) cache.put(s, bytes(100), 'cdn');
  };
  const seqsIn = (cache: MemorySegmentCache, upTo = 20) =>
    Array.from({ length: upTo }, (_, i) => i).filter((s) => cache.has(s));

  it('evicts the oldest complete segments first, down to the budget', () => {
    const { cache, events } = recorded(350);
    fill(cache, [5, 3, 4, 6]);
    expect(seqsIn(cache)).toEqual([4, 5, 6]);
    expect(cache.totalBytes).toBe(300);
    fill(cache, [7, 8]);
    expect(seqsIn(cache)).toEqual([6, 7, 8]);
    expect(events.filter((e) => e.startsWith('drop'))).toEqual([
      'drop:3:evicted',
      'drop:4:evicted',
      'drop:5:evicted',
    ]);
  });

  it('never evicts an incomplete segment, however old', () => {
    const { cache } = recorded(250);
    cache.begin(1, 'cdn', true);
    cache.append(1, bytes(100));
    fill(cache, [2, 3, 4]);
    expect(seqsIn(cache)).toEqual([1, 4]);
    // Alone over budget and still arriving: kept.
    cache.append(1, bytes(400));
    expect(seqsIn(cache)).toEqual([1]);
    expect(cache.totalBytes).toBe(500);
  });

  const readers: Array<[string, Array<[string, number | null]>, number[]]> = [
    ['no reader', [], [8, 9]],
    ['a reader at 6 pins 6 and after', [['a', 6]], [6, 7, 8, 9]],
    [
      'the slowest reader counts',
      [
        ['a', 8],
        ['b', 4],
      ],
      [4, 5, 6, 7, 8, 9],
    ],
    [
      'a reader that left pins nothing',
      [
        ['a', 4],
        ['a', null],
      ],
      [8, 9],
    ],
    [
      'a reader moving on frees what it passed',
      [
        ['a', 3],
        ['a', 7],
      ],
      [7, 8, 9],
    ],
  ];
  it.each(readers)('reader positions pin segments: %s', (_name, positions, kept) => {
    const { cache } = recorded(1000);
    fill(cache, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const [reader, seq] of positions) cache.setReaderPosition(reader, seq);
    cache.setBudget(200);
    expect(seqsIn(cache)).toEqual(kept);
  });

  // What a peer announced it keeps serving (PROMISED_SEGMENTS): the newest complete segments
  // stay whatever the budget; an incomplete newest one does not count among them.
  const promised: Array<[string, number, number | null, number[]]> = [
    ['keeps the newest 3 over a budget of 1', 200, null, [7, 8, 9]],
    ['the budget keeps more when it can', 500, null, [5, 6, 7, 8, 9]],
    ['a reader further back still pins from its position', 200, 5, [5, 6, 7, 8, 9]],
  ];
  it.each(promised)('promised newest segments: %s', (_name, budget, reader, kept) => {
    const { cache } = recorded(1000, 3);
    fill(cache, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    if (reader !== null) cache.setReaderPosition('player', reader);
    cache.setBudget(budget);
    expect(seqsIn(cache)).toEqual(kept);
  });

  it('an incomplete newest segment is not one of the promised ones', () => {
    const { cache } = recorded(1000, 2);
    fill(cache, [1, 2, 3, 4]);
    cache.begin(5, 'cdn', true);
    cache.append(5, bytes(50));
    cache.setBudget(100);
    expect(seqsIn(cache)).toEqual([3, 4, 5]);
  });

  it('pinned segments may keep the cache over budget until the reader moves', () => {
    const { cache } = recorded(200);
    cache.setReaderPosition('player', 1);
    fill(cache, [1, 2, 3, 4]);
    expect(seqsIn(cache)).toEqual([1, 2, 3, 4]);
    expect(cache.totalBytes).toBe(400);
    cache.setReaderPosition('player', 3);
    expect(seqsIn(cache)).toEqual([3, 4]);
  });

  const budgets: Array<[number, number[]]> = [
    [1000, [1, 2, 3, 4, 5]],
    [500, [1, 2, 3, 4, 5]],
    [499, [2, 3, 4, 5]],
    [250, [4, 5]],
    [0, []],
  ];
  it.each(budgets)('setBudget(%i) shrinks the cache oldest first to %j', (budget, kept) => {
    const { cache } = recorded(1000);
    fill(cache, [1, 2, 3, 4, 5]);
    cache.setBudget(budget);
    expect(cache.budgetBytes).toBe(budget);
    expect(seqsIn(cache)).toEqual(kept);
    expect(cache.totalBytes).toBe(kept.length * 100);
  });
});

describe('MemorySegmentCache: the live window', () => {
  const fill = (cache: MemorySegmentCache, seqs: number[]) => {
    for (const s of seqs) cache.put(s, bytes(100), 'cdn');
  };
  const seqsIn = (cache: MemorySegmentCache) =>
    Array.from({ length: 40 }, (_, i) => i).filter((s) => cache.has(s));

  // horizon, reader position (null: none), promised newest, kept
  const rows: Array<[string, number, number | null, number, number[]]> = [
    ['what left the window goes, whatever the budget', 5, null, 0, [5, 6, 7, 8, 9]],
    ['a reader still behind the horizon pins from its position', 5, 3, 0, [3, 4, 5, 6, 7, 8, 9]],
    ['a reader ahead of the horizon pins nothing more', 5, 8, 0, [5, 6, 7, 8, 9]],
    ['promised segments stay even behind the horizon', 9, null, 3, [7, 8, 9]],
  ];
  it.each(rows)('%s', (_name, horizon, reader, promised, kept) => {
    const { cache, events } = recorded(1 << 20, promised);
    fill(cache, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    if (reader !== null) cache.setReaderPosition('player', reader);
    cache.setHorizon(horizon);
    expect(seqsIn(cache)).toEqual(kept);
    expect(events.filter((e) => e.startsWith('drop')).every((e) => e.endsWith(':evicted'))).toBe(true);
  });

  it('keeps an incomplete segment behind the horizon, and follows a new stream back to low seqs', () => {
    const { cache } = recorded(1 << 20);
    cache.begin(2, 'cdn', true);
    cache.append(2, bytes(10));
    fill(cache, [3, 4, 30, 31]);
    cache.setHorizon(30);
    expect(seqsIn(cache)).toEqual([2, 30, 31]);
    // The channel restarted: its seqs begin again, and what arrives is kept.
    cache.drop(30, 'stream changed');
    cache.drop(31, 'stream changed');
    cache.setHorizon(0);
    fill(cache, [0, 1]);
    expect(seqsIn(cache)).toEqual([0, 1, 2]);
  });

  it('holds about a window however long a viewer watches', () => {
    const { cache } = recorded(1 << 30);
    for (let seq = 0; seq < 1000; seq++) {
      cache.put(seq, bytes(100), 'cdn');
      cache.setReaderPosition('player', seq);
      cache.setHorizon(Math.max(0, seq - 29));
    }
    expect(cache.totalBytes).toBe(30 * 100);
  });
});

describe("MemorySegmentCache: an evicted segment's memory", () => {
  it('is freed at eviction: views of it read as empty, the ones kept before too', () => {
    const { cache } = recorded(250);
    const lent = bytes(100);
    cache.put(1, lent, 'p2p');
    const view = cache.get(1)!.bytes;
    cache.put(2, bytes(100), 'p2p');
    cache.put(3, bytes(100), 'p2p');
    expect(cache.has(1)).toBe(false);
    expect(lent.length).toBe(0);
    expect(view.length).toBe(0);
    expect(cache.get(2)!.bytes.length).toBe(100);
  });

  it('frees a segment filled in pieces (its own grown buffer) when the horizon passes it', () => {
    const { cache } = recorded();
    cache.begin(1, 'cdn', true, 16);
    cache.append(1, THREE_TAGS.subarray(0, 50));
    cache.append(1, THREE_TAGS.subarray(50));
    cache.finish(1, true);
    const view = cache.get(1)!.bytes;
    expect(view.length).toBe(140);
    cache.setHorizon(2);
    expect(view.length).toBe(0);
  });

  it('leaves bytes that share their ArrayBuffer with others, and a segment dropped for another reason', () => {
    const shared = new Uint8Array(300).fill(7);
    freeNow(shared.subarray(0, 100));
    expect(shared.length).toBe(300);
    const { cache } = recorded();
    const kept = bytes(100);
    cache.put(1, kept, 'cdn');
    cache.drop(1, 'corrupt');
    expect(kept.length).toBe(100);
  });
});
