/**
 * The FLV demuxer and the timestamp rebaser, table-driven: well-formed input split at every
 * byte, and each kind of malformed input the origin can be sent.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_TAG_SIZE,
  encodeFlvHeader,
  encodeTags,
  FLV_HEADER_SIZE,
  FlvDemuxer,
  FlvError,
  type FlvTag,
  isAacSequenceHeader,
  isAvcSequenceHeader,
  isOnMetaData,
  isVideoKeyframe,
  PREV_TAG_SIZE,
  parseFlv,
  TAG_AUDIO,
  TAG_HEADER_SIZE,
  TAG_SCRIPT,
  TAG_VIDEO,
} from '../common/flv';
import { TimestampRebaser } from '../server/origin/timestamp-rebaser';
import { concatBytes } from './support/helpers';

const ON_METADATA_BODY = new Uint8Array([
  0x02, 0x00, 0x0a, 0x6f, 0x6e, 0x4d, 0x65, 0x74, 0x61, 0x44, 0x61, 0x74, 0x61, 0x08, 0, 0, 0, 0, 0, 0, 9,
]);
const SET_DATA_FRAME = new Uint8Array([
  0x02, 0x00, 0x0d, 0x40, 0x73, 0x65, 0x74, 0x44, 0x61, 0x74, 0x61, 0x46, 0x72, 0x61, 0x6d, 0x65,
]);

/** A small but complete stream: metadata, both sequence headers, a GOP of interleaved frames. */
const SAMPLE_TAGS: FlvTag[] = [
  { type: TAG_SCRIPT, timestamp: 0, data: ON_METADATA_BODY },
  { type: TAG_VIDEO, timestamp: 0, data: new Uint8Array([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]) },
  { type: TAG_AUDIO, timestamp: 0, data: new Uint8Array([0xaf, 0, 0x11, 0x90]) },
  { type: TAG_VIDEO, timestamp: 0, data: new Uint8Array([0x17, 1, 0, 0, 0, 9, 8, 7, 6, 5]) },
  { type: TAG_AUDIO, timestamp: 21, data: new Uint8Array([0xaf, 1, 1, 2, 3]) },
  { type: TAG_VIDEO, timestamp: 40, data: new Uint8Array([0x27, 1, 0, 0, 0, 4, 4]) },
  { type: TAG_AUDIO, timestamp: 43, data: new Uint8Array([0xaf, 1, 4, 5, 6, 7]) },
  // A timestamp past 24 bits uses the extension byte.
  { type: TAG_VIDEO, timestamp: 0x01234567, data: new Uint8Array([0x27, 1, 0, 0, 0, 3]) },
];
const SAMPLE = concatBytes([encodeFlvHeader(true, true), encodeTags(SAMPLE_TAGS)]);

/** Byte offsets where each tag of SAMPLE starts, and the end. */
const TAG_STARTS: number[] = [];
{
  let o = FLV_HEADER_SIZE + PREV_TAG_SIZE;
  for (const t of SAMPLE_TAGS) {
    TAG_STARTS.push(o);
    o += TAG_HEADER_SIZE + t.data.length + PREV_TAG_SIZE;
  }
  TAG_STARTS.push(o);
}

function tagHeader(type: number, size: number, timestamp = 0): Uint8Array {
  return new Uint8Array([
    type,
    (size >>> 16) & 0xff,
    (size >>> 8) & 0xff,
    size & 0xff,
    (timestamp >>> 16) & 0xff,
    (timestamp >>> 8) & 0xff,
    timestamp & 0xff,
    (timestamp >>> 24) & 0xff,
    0,
    0,
    0,
  ]);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function withByte(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[offset] = value;
  return copy;
}

function plain(tags: FlvTag[]) {
  return tags.map((t) => ({ type: t.type, timestamp: t.timestamp, data: Array.from(t.data) }));
}

describe('FlvDemuxer', () => {
  it('round-trips encodeTags output', () => {
    const d = new FlvDemuxer();
    expect(plain(d.push(SAMPLE))).toEqual(plain(SAMPLE_TAGS));
    expect(d.hasAudio).toBe(true);
    expect(d.hasVideo).toBe(true);
    expect(d.pendingBytes).toBe(0);
  });

  it('gives the same tags whatever the chunk boundary (every split point)', () => {
    const expected = plain(SAMPLE_TAGS);
    for (let cut = 0; cut <= SAMPLE.length; cut++) {
      const d = new FlvDemuxer();
      const tags = [...d.push(SAMPLE.subarray(0, cut)), ...d.push(SAMPLE.subarray(cut))];
      expect(plain(tags), `split at ${cut}`).toEqual(expected);
      expect(d.pendingBytes).toBe(0);
    }
  });

  it('gives the same tags fed one byte at a time, each tag as soon as its last byte arrives', () => {
    const d = new FlvDemuxer();
    const got: FlvTag[] = [];
    for (let i = 0; i < SAMPLE.length; i++) {
      const tags = d.push(SAMPLE.subarray(i, i + 1));
      if (tags.length) {
        expect(TAG_STARTS).toContain(i + 1); // a tag completes exactly at its end
        got.push(...tags);
      }
    }
    expect(plain(got)).toEqual(plain(SAMPLE_TAGS));
  });

  it.each([
    ['Uint8Array', () => SAMPLE.slice()],
    ['Buffer', () => Buffer.from(SAMPLE)],
  ])('returns bytes it owns: reusing the %s pushed does not change earlier tags', (_name, make) => {
    const buf = make();
    const tags = new FlvDemuxer().push(buf);
    buf.fill(0xee);
    expect(plain(tags)).toEqual(plain(SAMPLE_TAGS));
  });

  it('strips the RTMP "@setDataFrame" prefix from script data', () => {
    const bytes = concatBytes([
      encodeFlvHeader(false, true),
      encodeTags([{ type: TAG_SCRIPT, timestamp: 0, data: concatBytes([SET_DATA_FRAME, ON_METADATA_BODY]) }]),
    ]);
    const [tag] = parseFlv(bytes);
    expect(tag && isOnMetaData(tag)).toBe(true);
    expect(Array.from(tag!.data)).toEqual(Array.from(ON_METADATA_BODY));
  });

  it('skips empty tags and accepts a zero previous-tag-size', () => {
    const zeroPrev = concatBytes([tagHeader(TAG_AUDIO, 2, 5), new Uint8Array([0xaf, 1]), u32(0)]);
    const empty = concatBytes([tagHeader(TAG_VIDEO, 0, 7), u32(TAG_HEADER_SIZE)]);
    const tags = parseFlv(concatBytes([encodeFlvHeader(true, true), empty, zeroPrev]));
    expect(plain(tags)).toEqual([{ type: TAG_AUDIO, timestamp: 5, data: [0xaf, 1] }]);
  });

  it('reads a headerless run of tags (a segment)', () => {
    const body = SAMPLE.subarray(FLV_HEADER_SIZE + PREV_TAG_SIZE);
    expect(plain(parseFlv(body, { headerless: true }))).toEqual(plain(SAMPLE_TAGS));
    expect(() => parseFlv(body)).toThrow(/bad signature/);
  });

  it('accepts a header with a larger data offset', () => {
    const header = new Uint8Array([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 12, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0]);
    expect(plain(parseFlv(concatBytes([header, encodeTags(SAMPLE_TAGS)])))).toEqual(plain(SAMPLE_TAGS));
  });

  const tagBase = FLV_HEADER_SIZE + PREV_TAG_SIZE;
  const malformed: Array<{ name: string; bytes: Uint8Array; error: RegExp; maxTagSize?: number }> = [
    { name: 'bad signature', bytes: withByte(SAMPLE, 0, 0x47), error: /bad signature/ },
    {
      name: 'an HTTP request instead of FLV',
      bytes: new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'),
      error: /bad signature/,
    },
    { name: 'unsupported version', bytes: withByte(SAMPLE, 3, 2), error: /unsupported FLV version 2/ },
    { name: 'header size too small', bytes: withByte(SAMPLE, 8, 4), error: /bad FLV header size 4/ },
    {
      name: 'header size too large',
      bytes: concatBytes([new Uint8Array([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0x10, 0]), new Uint8Array(8)]),
      error: /bad FLV header size 4096/,
    },
    { name: 'unknown tag type', bytes: withByte(SAMPLE, tagBase, 7), error: /unknown FLV tag type 7/ },
    { name: 'encrypted tag', bytes: withByte(SAMPLE, tagBase, 0x20 | TAG_VIDEO), error: /encrypted/ },
    {
      name: 'huge tag size (16 MB)',
      // Only the tag header: the demuxer must refuse before buffering the body.
      bytes: concatBytes([encodeFlvHeader(true, true), tagHeader(TAG_VIDEO, 0xffffff)]),
      error: new RegExp(`16777215 bytes exceeds the ${DEFAULT_MAX_TAG_SIZE} limit`),
    },
    {
      name: 'tag size over a configured limit',
      bytes: concatBytes([encodeFlvHeader(true, true), tagHeader(TAG_AUDIO, 1001)]),
      error: /1001 bytes exceeds the 1000 limit/,
      maxTagSize: 1000,
    },
    {
      name: 'wrong previous-tag-size',
      bytes: (() => {
        const b = SAMPLE.slice();
        const end = TAG_STARTS[1]!; // the first tag's PreviousTagSize ends here
        b.set(u32(12345), end - PREV_TAG_SIZE);
        return b;
      })(),
      error: /previous tag size 12345, expected/,
    },
    {
      name: 'previous-tag-size off by one',
      bytes: (() => {
        const b = SAMPLE.slice();
        const end = TAG_STARTS[4]!;
        const size = end - TAG_STARTS[3]! - PREV_TAG_SIZE;
        b.set(u32(size + 1), end - PREV_TAG_SIZE);
        return b;
      })(),
      error: /previous tag size/,
    },
  ];

  it.each(malformed)('rejects $name, whole or split at any byte', ({ bytes, error, maxTagSize }) => {
    expect(() => new FlvDemuxer({ maxTagSize }).push(bytes)).toThrow(FlvError);
    expect(() => new FlvDemuxer({ maxTagSize }).push(bytes)).toThrow(error);
    for (let cut = 1; cut < Math.min(bytes.length, 200); cut++) {
      const d = new FlvDemuxer({ maxTagSize });
      expect(() => {
        d.push(bytes.subarray(0, cut));
        d.push(bytes.subarray(cut));
      }, `split at ${cut}`).toThrow(error);
    }
  });

  it('reports a truncated stream: complete tags out, the rest pending', () => {
    for (let n = 0; n < SAMPLE.length; n++) {
      const d = new FlvDemuxer();
      const tags = d.push(SAMPLE.subarray(0, n));
      const complete = TAG_STARTS.filter((s) => s <= n).length - 1;
      expect(tags.length, `truncated at ${n}`).toBe(Math.max(0, complete));
      const atBoundary = n === 0 || (n >= TAG_STARTS[0]! && TAG_STARTS.includes(n));
      expect(d.pendingBytes === 0, `pending at ${n}`).toBe(atBoundary);
      if (atBoundary) expect(parseFlv(SAMPLE.subarray(0, n)).length).toBe(Math.max(0, complete));
      else expect(() => parseFlv(SAMPLE.subarray(0, n))).toThrow(/truncated FLV/);
    }
  });

  it('classifies the sample tags', () => {
    expect(SAMPLE_TAGS.map((t) => isOnMetaData(t))).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(SAMPLE_TAGS.map(isAvcSequenceHeader)).toEqual([
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(SAMPLE_TAGS.map(isAacSequenceHeader)).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(SAMPLE_TAGS.map(isVideoKeyframe)).toEqual([false, false, false, true, false, false, false, false]);
  });
});

describe('TimestampRebaser', () => {
  const cases: Array<{
    name: string;
    startAt: number;
    input: number[];
    output: number[];
    discontinuities: number;
  }> = [
    {
      name: 'a stream from 0 keeps its timestamps',
      startAt: 0,
      input: [0, 0, 21, 40, 43],
      output: [0, 0, 21, 40, 43],
      discontinuities: 0,
    },
    {
      name: 'a later publisher continues where the last one ended',
      startAt: 5000,
      input: [0, 21, 40],
      output: [5000, 5021, 5040],
      discontinuities: 0,
    },
    {
      name: 'a stream with a large first timestamp is shifted',
      startAt: 100,
      input: [987654, 987694],
      output: [100, 140],
      discontinuities: 0,
    },
    {
      name: 'audio trailing video a little is kept as is',
      startAt: 0,
      input: [0, 40, 80, 60, 100],
      output: [0, 40, 80, 60, 100],
      discontinuities: 0,
    },
    {
      name: 'a backward jump (a looped file) is closed up',
      startAt: 0,
      input: [19900, 19940, 19980, 0, 40],
      output: [0, 40, 80, 120, 160],
      discontinuities: 1,
    },
    {
      name: 'a forward jump (a paused encoder) is closed up',
      startAt: 0,
      input: [0, 40, 80, 60080, 60120],
      output: [0, 40, 80, 120, 160],
      discontinuities: 1,
    },
    {
      name: '32-bit timestamp wrap continues monotonically',
      startAt: 1000,
      input: [0xfffffff0, 0x10],
      output: [1000, 1040],
      discontinuities: 1,
    },
    {
      name: 'negative results clamp to 0',
      startAt: 0,
      input: [100, 50, 140],
      output: [0, 0, 40],
      discontinuities: 0,
    },
    {
      name: 'steps at the thresholds are not discontinuities',
      startAt: 0,
      input: [2000, 1000, 6000],
      output: [0, 0, 4000],
      discontinuities: 0,
    },
    {
      name: 'steps just past the thresholds are',
      startAt: 0,
      input: [2000, 999, 1039, 6040],
      output: [0, 40, 80, 120],
      discontinuities: 2,
    },
  ];

  it.each(cases)('$name', ({ startAt, input, output, discontinuities }) => {
    const r = new TimestampRebaser({ startAt });
    expect(input.map((ts) => r.map(ts))).toEqual(output);
    expect(r.discontinuities).toBe(discontinuities);
    expect(r.lastOutput).toBe(Math.max(startAt, ...output));
  });

  it('honours custom thresholds and gap', () => {
    const r = new TimestampRebaser({ startAt: 0, maxBackwardMs: 10, maxForwardMs: 100, gapMs: 5 });
    expect([0, 50, 35, 200, 205].map((ts) => r.map(ts))).toEqual([0, 50, 55, 60, 65]);
    expect(r.discontinuities).toBe(2);
  });
});
