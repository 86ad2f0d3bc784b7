import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  GoodbyeReason,
  MAX_CHUNK,
  MAX_HAVE_COUNT,
  MsgType,
  RejectReason,
  WIRE_VERSION,
  WireError,
  type WireMessage,
} from '../main/p2p/wire';

const samples: WireMessage[] = [
  {
    type: MsgType.Hello,
    channel: 'demo',
    stream: 'abc123',
    peerId: 'p0123456789abcdef',
    role: 'viewer',
    initVersion: 3,
  },
  {
    type: MsgType.Hello,
    channel: 'c',
    stream: 's000',
    peerId: 'seed0000000000000',
    role: 'seed',
    initVersion: 0,
  },
  { type: MsgType.HaveMap, base: 100, bits: [true, false, true, true, false, false, false, false, true] },
  { type: MsgType.HaveMap, base: 0, bits: [] },
  { type: MsgType.Have, seq: 4294967295 },
  { type: MsgType.Request, reqId: 7, seq: 42, offset: 65536, deadlineMs: 1500 },
  { type: MsgType.Cancel, reqId: 7 },
  { type: MsgType.Reject, reqId: 9, reason: RejectReason.OverCap },
  {
    type: MsgType.Data,
    reqId: 1,
    seq: 42,
    offset: 0,
    total: 10,
    sentAt: 123456,
    payload: new Uint8Array([1, 2, 3]),
  },
  {
    type: MsgType.Data,
    reqId: 2,
    seq: 43,
    offset: 65536,
    total: 200000,
    sentAt: 0xffffffff,
    payload: new Uint8Array(MAX_CHUNK).fill(7),
  },
  { type: MsgType.Ack, reqId: 1, received: 3, echoSentAt: 123456, delayMs: -25 },
  { type: MsgType.Goodbye, reason: GoodbyeReason.BadData },
];

function raw(type: number, ...bytes: number[]): Uint8Array {
  return new Uint8Array([WIRE_VERSION, type, ...bytes]);
}

describe('wire codec', () => {
  it.each(samples.map((m) => [MsgType[m.type], m] as const))('round-trips %s', (_name, m) => {
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('encodes data messages into a scratch buffer when given one, byte for byte the same', () => {
    const scratch = new Uint8Array(MAX_CHUNK + 64).fill(0xee);
    for (const m of samples) {
      const fresh = encodeMessage(m);
      const scratched = encodeMessage(m, scratch);
      expect(scratched).toEqual(fresh);
      // Only data (the one large message) goes into the scratch; the rest get their own bytes.
      expect(scratched.buffer === scratch.buffer).toBe(m.type === MsgType.Data);
    }
    // Too small a scratch is not used.
    const data = samples.find((m) => m.type === MsgType.Data)!;
    expect(encodeMessage(data, new Uint8Array(4)).buffer.byteLength).toBeGreaterThan(4);
  });

  const malformed: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['one byte', new Uint8Array([WIRE_VERSION])],
    ['wrong version', new Uint8Array([99, MsgType.Have, 0, 0, 0, 1])],
    ['unknown type', raw(200)],
    ['type zero', raw(0)],
    ['have too short', raw(MsgType.Have, 0, 0, 1)],
    ['have with trailing bytes', raw(MsgType.Have, 0, 0, 0, 1, 9)],
    ['hello with a string longer than the buffer', raw(MsgType.Hello, 40, 65, 66)],
    ['hello with a string over the cap', raw(MsgType.Hello, 200, ...new Array(200).fill(65))],
    ['hello with bad utf-8', raw(MsgType.Hello, 2, 0xff, 0xfe, 1, 65, 1, 65, 0, 0, 0, 0, 0)],
    ['hello with unknown role', raw(MsgType.Hello, 1, 65, 1, 65, 1, 65, 7, 0, 0, 0, 0)],
    ['have-map with a huge count', raw(MsgType.HaveMap, 0, 0, 0, 0, 0xff, 0xff)],
    ['have-map shorter than its count', raw(MsgType.HaveMap, 0, 0, 0, 0, 0, 64, 1)],
    ['reject with unknown reason', raw(MsgType.Reject, 0, 0, 0, 1, 50)],
    ['goodbye with unknown reason', raw(MsgType.Goodbye, 77)],
    ['data without payload', raw(MsgType.Data, ...new Array(20).fill(0))],
    [
      'data beyond its total',
      raw(MsgType.Data, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 0, 1, 2),
    ],
    [
      'data over the chunk cap',
      new Uint8Array(MAX_CHUNK + 200)
        .fill(1)
        .map((v, i) => (i === 0 ? WIRE_VERSION : i === 1 ? MsgType.Data : v)),
    ],
    ['ack too short', raw(MsgType.Ack, 0, 0, 0, 1)],
  ];
  it.each(malformed)('rejects %s with a WireError', (_name, bytes) => {
    expect(() => decodeMessage(bytes)).toThrow(WireError);
  });

  it('refuses to encode what it would refuse to decode', () => {
    expect(() =>
      encodeMessage({ type: MsgType.HaveMap, base: 0, bits: new Array(MAX_HAVE_COUNT + 1).fill(true) }),
    ).toThrow(WireError);
    expect(() =>
      encodeMessage({
        type: MsgType.Data,
        reqId: 0,
        seq: 0,
        offset: 0,
        total: 1,
        sentAt: 0,
        payload: new Uint8Array(MAX_CHUNK + 1),
      }),
    ).toThrow(WireError);
    expect(() => encodeMessage({ type: MsgType.Have, seq: -1 })).toThrow(WireError);
    expect(() =>
      encodeMessage({
        type: MsgType.Hello,
        channel: 'x'.repeat(65),
        stream: 's',
        peerId: 'p',
        role: 'viewer',
        initVersion: 1,
      }),
    ).toThrow(WireError);
  });

  it('throws nothing but WireError on random input', () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 20000; i++) {
      const len = rand() % 80;
      const bytes = new Uint8Array(len);
      for (let j = 0; j < len; j++) bytes[j] = rand() & 0xff;
      if (len > 0 && rand() % 2) bytes[0] = WIRE_VERSION;
      if (len > 1) bytes[1] = (rand() % 11) as number;
      try {
        decodeMessage(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(WireError);
      }
    }
  });
});
