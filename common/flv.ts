/**
 * FLV container: tag types, a streaming demuxer with strict caps, and the encoder.
 *
 * Pure TypeScript on Uint8Array so that both the Node side and the renderer can use it.
 * The FLV layout is the product's own data format (segments are runs of FLV tags), so the
 * parser is written here rather than pulled from a player library.
 */

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;
export type TagType = typeof TAG_AUDIO | typeof TAG_VIDEO | typeof TAG_SCRIPT;

export const FLV_HEADER_SIZE = 9;
export const TAG_HEADER_SIZE = 11;
export const PREV_TAG_SIZE = 4;
/** Largest tag body we accept. A 4K keyframe at a high bitrate stays far below this. */
export const DEFAULT_MAX_TAG_SIZE = 8 * 1024 * 1024;

const CODEC_AVC = 7;
const SOUND_AAC = 10;

export interface FlvTag {
  type: TagType;
  /** Decode timestamp in milliseconds (32-bit in the container). */
  timestamp: number;
  data: Uint8Array;
}

export class FlvError extends Error {
  override name = 'FlvError';
}

export function isVideoKeyframe(tag: FlvTag): boolean {
  if (tag.type !== TAG_VIDEO || tag.data.length < 2) return false;
  const frameType = (tag.data[0]! >> 4) & 0x07;
  if (frameType !== 1) return false;
  // For AVC, packet type 1 is a coded frame; 0 is the sequence header, 2 end of sequence.
  return (tag.data[0]! & 0x0f) !== CODEC_AVC || tag.data[1] === 1;
}

export function isAvcSequenceHeader(tag: FlvTag): boolean {
  return (
    tag.type === TAG_VIDEO && tag.data.length >= 2 && (tag.data[0]! & 0x0f) === CODEC_AVC && tag.data[1] === 0
  );
}

export function isAacSequenceHeader(tag: FlvTag): boolean {
  return (
    tag.type === TAG_AUDIO && tag.data.length >= 2 && tag.data[0]! >> 4 === SOUND_AAC && tag.data[1] === 0
  );
}

export function isAvcEndOfSequence(tag: FlvTag): boolean {
  return (
    tag.type === TAG_VIDEO && tag.data.length >= 2 && (tag.data[0]! & 0x0f) === CODEC_AVC && tag.data[1] === 2
  );
}

/** Audio or video frame that a decoder needs (not a header, not script data). */
export function isMediaFrame(tag: FlvTag): boolean {
  if (tag.type === TAG_SCRIPT) return false;
  return !isAvcSequenceHeader(tag) && !isAacSequenceHeader(tag) && !isAvcEndOfSequence(tag);
}

/** AMF0 string "@setDataFrame" as RTMP publishers prefix it to onMetaData. */
const SET_DATA_FRAME = new Uint8Array([
  0x02, 0x00, 0x0d, 0x40, 0x73, 0x65, 0x74, 0x44, 0x61, 0x74, 0x61, 0x46, 0x72, 0x61, 0x6d, 0x65,
]);
/** AMF0 string "onMetaData". */
const ON_METADATA = new Uint8Array([
  0x02, 0x00, 0x0a, 0x6f, 0x6e, 0x4d, 0x65, 0x74, 0x61, 0x44, 0x61, 0x74, 0x61,
]);

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/** Script data as stored in a file: RTMP's "@setDataFrame" prefix removed. */
export function normaliseScriptData(data: Uint8Array): Uint8Array {
  return startsWith(data, SET_DATA_FRAME) ? data.subarray(SET_DATA_FRAME.length) : data;
}

export function isOnMetaData(tag: FlvTag): boolean {
  return tag.type === TAG_SCRIPT && startsWith(tag.data, ON_METADATA);
}

export function encodeFlvHeader(hasAudio: boolean, hasVideo: boolean): Uint8Array {
  const out = new Uint8Array(FLV_HEADER_SIZE + PREV_TAG_SIZE);
  out.set([0x46, 0x4c, 0x56, 0x01, (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0), 0, 0, 0, FLV_HEADER_SIZE]);
  return out; // PreviousTagSize0 is the trailing zero word.
}

export function encodedTagSize(tag: FlvTag): number {
  return TAG_HEADER_SIZE + tag.data.length + PREV_TAG_SIZE;
}

/** Writes one tag (header, body, PreviousTagSize) into `out` at `offset`; returns the new offset. */
export function writeTag(tag: FlvTag, out: Uint8Array, offset: number): number {
  const size = tag.data.length;
  const ts = tag.timestamp >>> 0;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[offset] = tag.type;
  out[offset + 1] = (size >>> 16) & 0xff;
  out[offset + 2] = (size >>> 8) & 0xff;
  out[offset + 3] = size & 0xff;
  out[offset + 4] = (ts >>> 16) & 0xff;
  out[offset + 5] = (ts >>> 8) & 0xff;
  out[offset + 6] = ts & 0xff;
  out[offset + 7] = (ts >>> 24) & 0xff;
  out[offset + 8] = 0;
  out[offset + 9] = 0;
  out[offset + 10] = 0;
  out.set(tag.data, offset + TAG_HEADER_SIZE);
  view.setUint32(offset + TAG_HEADER_SIZE + size, TAG_HEADER_SIZE + size);
  return offset + TAG_HEADER_SIZE + size + PREV_TAG_SIZE;
}

export function encodeTags(tags: readonly FlvTag[]): Uint8Array {
  let total = 0;
  for (const t of tags) total += encodedTagSize(t);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const t of tags) offset = writeTag(t, out, offset);
  return out;
}

/**
 * Chunks in arrival order; reads copy only what they need, so a big tag in small chunks stays
 * linear. Tag headers are read into a scratch array and small bodies copied byte by byte: a
 * view per read (subarray) was most of what a viewer's player allocated per tag.
 */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Copies `n` bytes from the front into `out` without consuming them (n <= length). */
  copyTo(out: Uint8Array, n: number): Uint8Array {
    let filled = 0;
    let skip = this.head;
    for (let c = 0; filled < n; c++) {
      const chunk = this.chunks[c]!;
      const take = Math.min(chunk.length - skip, n - filled);
      if (take <= 32) for (let i = 0; i < take; i++) out[filled + i] = chunk[skip + i]!;
      else out.set(chunk.subarray(skip, skip + take), filled);
      filled += take;
      skip = 0;
    }
    return out;
  }

  skip(n: number): void {
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      if (avail > n) {
        this.head += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** The first `n` bytes, consumed, in an array the caller owns. */
  take(n: number): Uint8Array {
    const out = this.copyTo(new Uint8Array(n), n);
    this.skip(n);
    return out;
  }
}

/** Body size of the FLV tag whose header starts at `p` (the header must be in `bytes`). */
export function tagBodySize(bytes: Uint8Array, p: number): number {
  return (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
}

/** Timestamp (ms, with its extension byte) of the FLV tag whose header starts at `p`. */
export function tagTimestamp(bytes: Uint8Array, p: number): number {
  return ((bytes[p + 7]! << 24) | (bytes[p + 4]! << 16) | (bytes[p + 5]! << 8) | bytes[p + 6]!) >>> 0;
}

/**
 * A copy of the whole tags in `bytes` with every timestamp moved by `offsetMs` (clamped at 0):
 * a stream spliced from another channel continues the first one's timeline.
 */
export function shiftTimestamps(bytes: Uint8Array, offsetMs: number): Uint8Array {
  const out = bytes.slice();
  let p = 0;
  while (out.length - p >= TAG_HEADER_SIZE) {
    const ts = Math.max(0, tagTimestamp(out, p) + offsetMs) >>> 0;
    out[p + 4] = (ts >>> 16) & 0xff;
    out[p + 5] = (ts >>> 8) & 0xff;
    out[p + 6] = ts & 0xff;
    out[p + 7] = (ts >>> 24) & 0xff;
    p += TAG_HEADER_SIZE + tagBodySize(out, p) + PREV_TAG_SIZE;
  }
  return out;
}

/** End of the whole tags in `bytes[from, end)`: where a reader may stop without cutting a tag. */
export function wholeTagsEnd(bytes: Uint8Array, from: number, end: number): number {
  let p = from;
  while (end - p >= TAG_HEADER_SIZE) {
    const total = TAG_HEADER_SIZE + tagBodySize(bytes, p) + PREV_TAG_SIZE;
    if (end - p < total) break;
    p += total;
  }
  return p;
}

/**
 * First video keyframe among the whole tags of `bytes[from, end)`: its offset, its timestamp,
 * and where the tag after it begins (to look on from).
 */
export function findKeyframe(
  bytes: Uint8Array,
  end: number,
  from = 0,
): { offset: number; ts: number; next: number } | null {
  let p = from;
  while (p + TAG_HEADER_SIZE <= end) {
    const size = tagBodySize(bytes, p);
    const next = p + TAG_HEADER_SIZE + size + PREV_TAG_SIZE;
    if (next > end) return null;
    if (bytes[p] === TAG_VIDEO) {
      const data = bytes.subarray(p + TAG_HEADER_SIZE, p + TAG_HEADER_SIZE + size);
      const ts = tagTimestamp(bytes, p);
      if (isVideoKeyframe({ type: TAG_VIDEO, timestamp: ts, data })) return { offset: p, ts, next };
    }
    p = next;
  }
  return null;
}

/** Timestamp of the last whole tag in `bytes[0, end)`, read through its PreviousTagSize. */
export function lastTagTs(bytes: Uint8Array, end: number): number | null {
  if (end < TAG_HEADER_SIZE + PREV_TAG_SIZE) return null;
  const prev =
    ((bytes[end - 4]! << 24) | (bytes[end - 3]! << 16) | (bytes[end - 2]! << 8) | bytes[end - 1]!) >>> 0;
  const p = end - PREV_TAG_SIZE - prev;
  if (p < 0 || prev < TAG_HEADER_SIZE) return null;
  return tagTimestamp(bytes, p);
}

export interface DemuxerOptions {
  maxTagSize?: number;
  /** Set when the byte stream starts directly with tags (no FLV header), as segments do. */
  headerless?: boolean;
  /**
   * Keep only the first bytes of each tag body (enough to tell a frame from a header): for
   * readers that need tag types and timestamps, not the media (the headless player).
   */
  bodyPrefix?: number;
}

/**
 * Streaming FLV demuxer. `push` returns the complete tags found so far and throws FlvError on
 * anything malformed; after an error the demuxer must not be used again.
 */
export class FlvDemuxer {
  private readonly queue = new ByteQueue();
  /** A tag header, or a header's PreviousTagSize, read without allocating. */
  private readonly scratch = new Uint8Array(TAG_HEADER_SIZE);
  private state: 'header' | 'tags' = 'header';
  private readonly maxTagSize: number;
  private readonly bodyPrefix: number | null;
  hasAudio = false;
  hasVideo = false;

  constructor(opts: DemuxerOptions = {}) {
    this.maxTagSize = opts.maxTagSize ?? DEFAULT_MAX_TAG_SIZE;
    this.bodyPrefix = opts.bodyPrefix ?? null;
    if (opts.headerless) this.state = 'tags';
  }

  /** Bytes received but not yet part of a complete tag (a publisher vanishing mid-tag leaves some). */
  get pendingBytes(): number {
    return this.queue.length;
  }

  push(chunk: Uint8Array): FlvTag[] {
    this.queue.push(chunk);
    const tags: FlvTag[] = [];
    for (;;) {
      if (this.state === 'header') {
        if (this.queue.length < FLV_HEADER_SIZE) return tags;
        const h = this.queue.copyTo(this.scratch, FLV_HEADER_SIZE);
        if (h[0] !== 0x46 || h[1] !== 0x4c || h[2] !== 0x56)
          throw new FlvError('not an FLV stream (bad signature)');
        if (h[3] !== 1) throw new FlvError(`unsupported FLV version ${h[3]}`);
        const dataOffset = ((h[5]! << 24) | (h[6]! << 16) | (h[7]! << 8) | h[8]!) >>> 0;
        if (dataOffset < FLV_HEADER_SIZE || dataOffset > 1024)
          throw new FlvError(`bad FLV header size ${dataOffset}`);
        if (this.queue.length < dataOffset + PREV_TAG_SIZE) return tags;
        this.hasAudio = (h[4]! & 4) !== 0;
        this.hasVideo = (h[4]! & 1) !== 0;
        this.queue.skip(dataOffset + PREV_TAG_SIZE);
        this.state = 'tags';
        continue;
      }
      if (this.queue.length < TAG_HEADER_SIZE) return tags;
      const th = this.queue.copyTo(this.scratch, TAG_HEADER_SIZE);
      const type = th[0]! & 0x1f;
      if ((th[0]! & 0x20) !== 0) throw new FlvError('encrypted FLV tags are not supported');
      if (type !== TAG_AUDIO && type !== TAG_VIDEO && type !== TAG_SCRIPT) {
        throw new FlvError(`unknown FLV tag type ${type}`);
      }
      const size = tagBodySize(th, 0);
      if (size > this.maxTagSize)
        throw new FlvError(`FLV tag of ${size} bytes exceeds the ${this.maxTagSize} limit`);
      const timestamp = tagTimestamp(th, 0);
      const total = TAG_HEADER_SIZE + size + PREV_TAG_SIZE;
      if (this.queue.length < total) return tags;
      this.queue.skip(TAG_HEADER_SIZE);
      let data: Uint8Array;
      if (this.bodyPrefix !== null && type !== TAG_SCRIPT && size > this.bodyPrefix) {
        data = this.queue.take(this.bodyPrefix);
        this.queue.skip(size - this.bodyPrefix);
      } else {
        data = this.queue.take(size);
      }
      const p = this.queue.copyTo(this.scratch, PREV_TAG_SIZE);
      this.queue.skip(PREV_TAG_SIZE);
      const prev = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
      // Some muxers write 0 here; anything else must match or the stream is corrupt.
      if (prev !== 0 && prev !== TAG_HEADER_SIZE + size) {
        throw new FlvError(`corrupt FLV: previous tag size ${prev}, expected ${TAG_HEADER_SIZE + size}`);
      }
      if (size === 0) continue;
      tags.push({
        type: type as TagType,
        timestamp,
        data: type === TAG_SCRIPT ? normaliseScriptData(data) : data,
      });
    }
  }
}

/** Parses a complete buffer (a file, or init + segments); throws FlvError if it is malformed or truncated. */
export function parseFlv(bytes: Uint8Array, opts: DemuxerOptions = {}): FlvTag[] {
  const d = new FlvDemuxer(opts);
  const tags = d.push(bytes);
  if (d.pendingBytes !== 0) throw new FlvError(`truncated FLV: ${d.pendingBytes} trailing bytes`);
  return tags;
}
