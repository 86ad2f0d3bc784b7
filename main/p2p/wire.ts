/**
 * The peer wire protocol: what two viewers say over a data channel. Binary, one message a
 * data-channel message: [version u8][type u8][fields…]. Every length and count is capped;
 * `decodeMessage` throws WireError on anything malformed, and the caller drops that peer.
 */

import type { PeerRole } from '../../common/tracker-protocol';

export const WIRE_VERSION = 1;
/** Largest segment payload in one DATA message (the data channel's own cap is 256 KiB). */
export const MAX_CHUNK = 64 * 1024;
export const MAX_HAVE_COUNT = 1024;
/**
 * An announcement is a promise: a peer keeps (never evicts) the newest PROMISED_SEGMENTS
 * segments it has announced, so a Reject NotHave for one of them is a lie, not a race with
 * its cache's eviction. The asker judges with half this margin (announcements still in
 * flight when the peer moved on).
 */
export const PROMISED_SEGMENTS = 8;
const MAX_STRING = 64;
/** Largest encoded message: a full DATA chunk plus its header. */
export const MAX_MESSAGE = MAX_CHUNK + 64;

export enum MsgType {
  Hello = 1,
  HaveMap = 2,
  Have = 3,
  Request = 4,
  Cancel = 5,
  Reject = 6,
  Data = 7,
  Ack = 8,
  Goodbye = 9,
}

export enum RejectReason {
  NotHave = 0,
  Busy = 1,
  OverCap = 2,
  BadRequest = 3,
}

export enum GoodbyeReason {
  Leaving = 0,
  Replaced = 1,
  ProtocolError = 2,
  BadData = 3,
  WrongChannel = 4,
}

export type WireMessage =
  | {
      type: MsgType.Hello;
      channel: string;
      stream: string;
      peerId: string;
      role: PeerRole;
      initVersion: number;
    }
  /** Segments held: bit i of `bits` set = seq base+i is held (verified). */
  | { type: MsgType.HaveMap; base: number; bits: boolean[] }
  | { type: MsgType.Have; seq: number }
  /** Ask for segment `seq` from `offset`; `deadlineMs` = how soon the asker needs it. */
  | { type: MsgType.Request; reqId: number; seq: number; offset: number; deadlineMs: number }
  | { type: MsgType.Cancel; reqId: number }
  | { type: MsgType.Reject; reqId: number; reason: RejectReason }
  /** A piece of a segment; `sentAt` is the sender's clock (ms, mod 2^32) for delay measurement. */
  | {
      type: MsgType.Data;
      reqId: number;
      seq: number;
      offset: number;
      total: number;
      sentAt: number;
      payload: Uint8Array;
    }
  /** Receiver's feedback: bytes received of `reqId`, the last `sentAt` seen and its one-way delay sample. */
  | { type: MsgType.Ack; reqId: number; received: number; echoSentAt: number; delayMs: number }
  | { type: MsgType.Goodbye; reason: GoodbyeReason };

export class WireError extends Error {
  override name = 'WireError';
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 2;

  /** `scratch`: written into it (a view of it is returned) when it is large enough. */
  constructor(type: MsgType, size: number, scratch?: Uint8Array) {
    this.buf = scratch && scratch.length >= size + 2 ? scratch : new Uint8Array(size + 2);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.buf[0] = WIRE_VERSION;
    this.buf[1] = type;
  }
  u8(v: number): this {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }
  u16(v: number): this {
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.pos, v | 0);
    this.pos += 4;
    return this;
  }
  str(s: string): this {
    const b = enc.encode(s);
    if (b.length > MAX_STRING) throw new WireError(`string of ${b.length} bytes exceeds ${MAX_STRING}`);
    this.u8(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  done(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

class Reader {
  private pos = 2;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new WireError('message too short');
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  str(): string {
    const n = this.u8();
    if (n > MAX_STRING) throw new WireError('string too long');
    this.need(n);
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return dec.decode(s);
    } catch {
      throw new WireError('string is not UTF-8');
    }
  }
  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new WireError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function checkSeq(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new WireError(`${what} out of range`);
}

/**
 * Encodes one message. With `scratch`, a data message (the only large one) is written into it
 * and a view of it is returned, valid until the next call with the same scratch: for a caller
 * whose transport copies the bytes before it returns.
 */
export function encodeMessage(m: WireMessage, scratch?: Uint8Array): Uint8Array {
  switch (m.type) {
    case MsgType.Hello:
      return new Writer(m.type, 4 * (MAX_STRING + 1) + 8)
        .str(m.channel)
        .str(m.stream)
        .str(m.peerId)
        .u8(m.role === 'seed' ? 1 : 0)
        .u32(m.initVersion)
        .done();
    case MsgType.HaveMap: {
      if (m.bits.length > MAX_HAVE_COUNT) throw new WireError('have-map too large');
      checkSeq(m.base, 'base');
      const packed = new Uint8Array(Math.ceil(m.bits.length / 8));
      m.bits.forEach((b, i) => {
        if (b) packed[i >> 3]! |= 1 << (i & 7);
      });
      return new Writer(m.type, 6 + packed.length).u32(m.base).u16(m.bits.length).bytes(packed).done();
    }
    case MsgType.Have:
      checkSeq(m.seq, 'seq');
      return new Writer(m.type, 4).u32(m.seq).done();
    case MsgType.Request:
      checkSeq(m.seq, 'seq');
      return new Writer(m.type, 16)
        .u32(m.reqId)
        .u32(m.seq)
        .u32(m.offset)
        .u32(Math.max(0, Math.min(m.deadlineMs, 0xffffffff)))
        .done();
    case MsgType.Cancel:
      return new Writer(m.type, 4).u32(m.reqId).done();
    case MsgType.Reject:
      return new Writer(m.type, 5).u32(m.reqId).u8(m.reason).done();
    case MsgType.Data:
      if (m.payload.length > MAX_CHUNK)
        throw new WireError(`chunk of ${m.payload.length} bytes exceeds ${MAX_CHUNK}`);
      checkSeq(m.seq, 'seq');
      return new Writer(m.type, 20 + m.payload.length, scratch)
        .u32(m.reqId)
        .u32(m.seq)
        .u32(m.offset)
        .u32(m.total)
        .u32(m.sentAt)
        .bytes(m.payload)
        .done();
    case MsgType.Ack:
      return new Writer(m.type, 16).u32(m.reqId).u32(m.received).u32(m.echoSentAt).i32(m.delayMs).done();
    case MsgType.Goodbye:
      return new Writer(m.type, 1).u8(m.reason).done();
    default: {
      const never: never = m;
      throw new WireError(`cannot encode ${String(never)}`);
    }
  }
}

/** Decodes one message; throws WireError on anything malformed (the peer is then dropped). */
export function decodeMessage(buf: Uint8Array): WireMessage {
  if (buf.length < 2) throw new WireError('message too short');
  if (buf.length > MAX_MESSAGE) throw new WireError(`message of ${buf.length} bytes exceeds ${MAX_MESSAGE}`);
  if (buf[0] !== WIRE_VERSION) throw new WireError(`unsupported wire version ${buf[0]}`);
  const r = new Reader(buf);
  const type = buf[1] as MsgType;
  let m: WireMessage;
  switch (type) {
    case MsgType.Hello: {
      const channel = r.str();
      const stream = r.str();
      const peerId = r.str();
      const role = r.u8();
      if (role > 1) throw new WireError('unknown role');
      m = { type, channel, stream, peerId, role: role === 1 ? 'seed' : 'viewer', initVersion: r.u32() };
      break;
    }
    case MsgType.HaveMap: {
      const base = r.u32();
      const count = r.u16();
      if (count > MAX_HAVE_COUNT) throw new WireError('have-map too large');
      const packed = r.take(Math.ceil(count / 8));
      const bits: boolean[] = [];
      for (let i = 0; i < count; i++) bits.push((packed[i >> 3]! & (1 << (i & 7))) !== 0);
      m = { type, base, bits };
      break;
    }
    case MsgType.Have:
      m = { type, seq: r.u32() };
      break;
    case MsgType.Request:
      m = { type, reqId: r.u32(), seq: r.u32(), offset: r.u32(), deadlineMs: r.u32() };
      break;
    case MsgType.Cancel:
      m = { type, reqId: r.u32() };
      break;
    case MsgType.Reject: {
      const reqId = r.u32();
      const reason = r.u8();
      if (reason > RejectReason.BadRequest) throw new WireError('unknown reject reason');
      m = { type, reqId, reason };
      break;
    }
    case MsgType.Data: {
      const reqId = r.u32();
      const seq = r.u32();
      const offset = r.u32();
      const total = r.u32();
      const sentAt = r.u32();
      const payload = r.rest();
      if (payload.length === 0) throw new WireError('empty data chunk');
      if (payload.length > MAX_CHUNK) throw new WireError('chunk too large');
      if (offset + payload.length > total) throw new WireError('chunk beyond the segment end');
      m = { type, reqId, seq, offset, total, sentAt, payload };
      break;
    }
    case MsgType.Ack:
      m = { type, reqId: r.u32(), received: r.u32(), echoSentAt: r.u32(), delayMs: r.i32() };
      break;
    case MsgType.Goodbye: {
      const reason = r.u8();
      if (reason > GoodbyeReason.WrongChannel) throw new WireError('unknown goodbye reason');
      m = { type, reason };
      break;
    }
    default:
      throw new WireError(`unknown message type ${type}`);
  }
  r.end();
  return m;
}
