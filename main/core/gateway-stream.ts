/**
 * One player connection's continuous FLV: init data, then from the newest keyframe the
 * cache holds, the whole first GOP at once (fast write), then every segment as it arrives.
 * A new init version is written before the first segment that needs it; a segment the
 * sources cannot deliver in time is skipped up to the next keyframe instead of stalling.
 */
import {
  encodeTags,
  FLV_HEADER_SIZE,
  isVideoKeyframe,
  PREV_TAG_SIZE,
  parseFlv,
  TAG_HEADER_SIZE,
  TAG_VIDEO,
} from '../../common/flv';
import type { ChannelSession } from './channel-session';
import type { CachedSegment, SegmentCache } from './segment-cache';
import type { CoreLog } from './viewer-core-api';

export interface StreamSink {
  write(bytes: Uint8Array): void;
  /** Bytes written but not yet taken by the player. */
  backlog(): number;
  end(): void;
}

export interface GatewayStreamOptions {
  readerId: string;
  /** How long to wait for a missing segment before skipping to the next keyframe. */
  gapTimeoutMs?: number;
  /** Called once, with the timestamp of the first media tag written (the player's time zero). */
  onStart?: (firstTs: number) => void;
  /**
   * The first GOP should hold at least this much media (ms), so the player can sit behind the
   * live edge with some buffer; an older keyframe is taken when the newest is too recent.
   */
  minStartBufferMs?: number;
  /**
   * The stream skipped `ms` of media to the next keyframe. Players close such a gap in their
   * media time, so the session's time zero moves by that much for latency to stay right.
   */
  onSkip?: (ms: number) => void;
  maxBacklogBytes?: number;
}

/** First video keyframe among the whole tags of `bytes[0, end)`: its offset and timestamp. */
export function findKeyframe(
  bytes: Uint8Array,
  end: number,
  from = 0,
): { offset: number; ts: number } | null {
  let p = from;
  while (p + TAG_HEADER_SIZE <= end) {
    const size = (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
    const next = p + TAG_HEADER_SIZE + size + PREV_TAG_SIZE;
    if (next > end) return null;
    if (bytes[p] === TAG_VIDEO) {
      const data = bytes.subarray(p + TAG_HEADER_SIZE, p + TAG_HEADER_SIZE + size);
      const ts = ((bytes[p + 7]! << 24) | (bytes[p + 4]! << 16) | (bytes[p + 5]! << 8) | bytes[p + 6]!) >>> 0;
      if (isVideoKeyframe({ type: TAG_VIDEO, timestamp: ts, data })) return { offset: p, ts };
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
  return ((bytes[p + 7]! << 24) | (bytes[p + 4]! << 16) | (bytes[p + 5]! << 8) | bytes[p + 6]!) >>> 0;
}

export class GatewayStream {
  private seq = -1;
  private offset = 0;
  private initVersion: number | null = null;
  private started = false;
  private closed = false;
  private tainted = false;
  private lastProgress = Date.now();
  private readonly gapTimeoutMs: number;
  private readonly maxBacklog: number;
  private readonly unsubscribeCache: () => void;
  private readonly unsubscribeSession: () => void;
  private readonly timer: NodeJS.Timeout;
  bytesWritten = 0;
  skips = 0;

  constructor(
    private readonly session: ChannelSession,
    private readonly cache: SegmentCache,
    private readonly sink: StreamSink,
    private readonly log: CoreLog,
    private readonly opts: GatewayStreamOptions,
  ) {
    this.gapTimeoutMs = opts.gapTimeoutMs ?? 2500;
    this.maxBacklog = opts.maxBacklogBytes ?? 32 * 1024 * 1024;
    this.unsubscribeCache = cache.subscribe({
      onUpdate: (seq) => {
        if (!this.started || seq === this.seq) this.pump();
      },
      onDrop: (seq, reason) => {
        if (seq === this.seq && this.offset > 0 && reason === 'hash mismatch') this.tainted = true;
      },
    });
    this.unsubscribeSession = session.onChange(() => this.pump());
    this.timer = setInterval(() => this.checkGap(), 250);
    this.pump();
  }

  get isStarted(): boolean {
    return this.started;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribeCache();
    this.unsubscribeSession();
    this.cache.setReaderPosition(this.opts.readerId, null);
    this.sink.end();
  }

  /** Keyframes whose bytes are here through the keyframe, newest first or oldest first. */
  private *keyframes(
    minSeq: number,
    newestFirst: boolean,
  ): Generator<{ seq: number; offset: number; ts: number }> {
    const top = Math.max(this.session.latestSeq ?? -1, this.session.liveEdgeSeq ?? -1);
    const seqs: number[] = [];
    for (let s = top; s >= minSeq && s > top - 40; s--) seqs.push(s);
    if (!newestFirst) seqs.reverse();
    for (const s of seqs) {
      const c = this.cache.get(s);
      if (!c || !this.readable(c)) continue;
      const entry = this.session.entry(s);
      if (entry && entry.keyframeOffset === null) continue;
      const k = findKeyframe(c.bytes, c.tagEnd, entry?.keyframeOffset ?? 0);
      if (k && this.session.initVersionOf(s) !== null) yield { seq: s, ...k };
    }
  }

  /** Where a new player starts: the newest keyframe that leaves `minStartBufferMs` of media after it. */
  private startPoint(): { seq: number; offset: number; ts: number } | null {
    let edgeTs: number | null = null;
    const top = Math.max(this.session.latestSeq ?? -1, this.session.liveEdgeSeq ?? -1);
    for (let s = top; s > top - 3 && edgeTs === null; s--) {
      const c = this.cache.get(s);
      if (c && this.readable(c)) edgeTs = lastTagTs(c.bytes, c.tagEnd);
    }
    const want = this.opts.minStartBufferMs ?? 500;
    let newest: { seq: number; offset: number; ts: number } | null = null;
    for (const k of this.keyframes(0, true)) {
      newest ??= k;
      if (edgeTs !== null && edgeTs - k.ts >= want) return k;
    }
    return newest;
  }

  private readable(c: CachedSegment): boolean {
    return c.verified || c.streamable;
  }

  private writeInit(version: number, ts: number): boolean {
    const init = this.session.init(version);
    if (!init) return false;
    const tags = parseFlv(init).map((t) => ({ ...t, timestamp: ts }));
    if (!this.started) this.write(init.subarray(0, FLV_HEADER_SIZE + PREV_TAG_SIZE));
    this.write(encodeTags(tags));
    this.initVersion = version;
    return true;
  }

  /** Timestamp of the last tag written (for the size of a skip). */
  private lastTs: number | null = null;

  private write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.lastTs = lastTagTs(bytes, bytes.length) ?? this.lastTs;
    this.sink.write(bytes);
    this.bytesWritten += bytes.length;
    this.lastProgress = Date.now();
  }

  private jumpTo(k: { seq: number; offset: number; ts: number }): void {
    const version = this.session.initVersionOf(k.seq)!;
    if (version !== this.initVersion && !this.writeInit(version, k.ts)) return;
    this.seq = k.seq;
    this.offset = k.offset;
    this.tainted = false;
    this.cache.setReaderPosition(this.opts.readerId, k.seq);
  }

  private pump(): void {
    if (this.closed) return;
    if (!this.started) {
      const k = this.startPoint();
      if (!k) return;
      this.jumpTo(k);
      if (this.initVersion === null) return;
      this.started = true;
      this.log.info('gateway stream started', { reader: this.opts.readerId, seq: k.seq, ts: k.ts });
      this.opts.onStart?.(k.ts);
    }
    if (this.sink.backlog() > this.maxBacklog) {
      this.log.warn('player stopped reading; closing its stream', { reader: this.opts.readerId });
      this.close();
      return;
    }
    for (;;) {
      if (this.tainted) return this.skipAhead('corrupt segment');
      const c = this.cache.get(this.seq);
      if (!c || !this.readable(c)) return;
      if (c.tagEnd > this.offset) {
        this.write(c.bytes.subarray(this.offset, c.tagEnd));
        this.offset = c.tagEnd;
      }
      if (!c.complete || this.offset < c.bytes.length) return;
      const next = this.seq + 1;
      const version = this.session.initVersionOf(next);
      if (version === null) return;
      if (version !== this.initVersion) {
        const entry = this.session.entry(next);
        if (!this.writeInit(version, entry?.startTs ?? 0)) return;
      }
      this.seq = next;
      this.offset = 0;
      this.cache.setReaderPosition(this.opts.readerId, next);
    }
  }

  private skipAhead(reason: string): void {
    const k = this.keyframes(this.seq + 1, false).next().value;
    if (!k) return;
    this.skips++;
    if (this.lastTs !== null && k.ts > this.lastTs) this.opts.onSkip?.(k.ts - this.lastTs);
    this.log.warn('gateway skipped to the next keyframe', {
      reader: this.opts.readerId,
      from: this.seq,
      to: k.seq,
      reason,
    });
    this.jumpTo(k);
    this.pump();
  }

  private checkGap(): void {
    if (!this.started || this.closed) return;
    const lost = this.session.isLost(this.seq);
    if (lost || Date.now() - this.lastProgress > this.gapTimeoutMs) {
      const newer = Math.max(this.session.latestSeq ?? -1, this.session.liveEdgeSeq ?? -1);
      if (newer > this.seq) this.skipAhead(lost ? `segment ${this.seq} is lost` : 'segment late');
    }
  }
}
