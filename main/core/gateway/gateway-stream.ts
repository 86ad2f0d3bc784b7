/**
 * One player connection's continuous FLV: init data, then from the newest keyframe the
 * cache holds, the whole first GOP at once (fast write), then every segment as it arrives.
 * A new init version is written before the first segment that needs it; a segment the
 * sources cannot deliver in time is skipped up to the next keyframe instead of stalling.
 */
import {
  encodeTags,
  FLV_HEADER_SIZE,
  findKeyframe,
  isAacSequenceHeader,
  isAvcSequenceHeader,
  lastTagTs,
  PREV_TAG_SIZE,
  parseFlv,
  shiftTimestamps,
} from '../../../common/flv';
import { everyBeat } from '../../../common/heartbeat';
import type { CoreLog } from '../../../common/logger';
import type { SegmentEntry } from '../../../common/manifest';
import type { CachedSegment, SegmentCache } from '../cache/segment-cache';

/** What a player's stream reads of its channel (the channel session provides it). */
export interface ChannelTimeline {
  readonly latestSeq: number | null;
  readonly liveEdgeSeq: number | null;
  entry(seq: number): SegmentEntry | undefined;
  init(version: number): Uint8Array | undefined;
  initVersionOf(seq: number): number | null;
  isLost(seq: number): boolean;
  /** A source is fetching the segment now: waiting for it beats skipping it. */
  isFetching(seq: number): boolean;
  onChange(listener: () => void): () => void;
}

export interface StreamSink {
  /** The sink may keep `bytes` until they are sent: they are the stream's own (never the cache's). */
  write(bytes: Uint8Array): void;
  /** Bytes written but not yet taken by the player. */
  backlog(): number;
  end(): void;
}

export interface GatewayStreamOptions {
  readerId: string;
  /** How long to wait for a missing segment before skipping to the next keyframe. */
  gapTimeoutMs?: number;
  /**
   * Called once, with the timestamp of the first media tag written (the player's time zero)
   * and of the last tag of the start-up burst (what was written at once).
   */
  onStart?: (firstTs: number, burstEndTs: number) => void;
  /**
   * The first GOP should hold at least this much media (ms), so the player can sit behind the
   * live edge with some buffer; an older keyframe is taken when the newest is too recent.
   */
  minStartBufferMs?: number | (() => number);
  /**
   * The stream skipped `ms` of media to the next keyframe. Players close such a gap in their
   * media time, so the session's time zero moves by that much for latency to stay right.
   */
  onSkip?: (ms: number) => void;
  /**
   * A video keyframe was written, at this (written) timestamp: where a player holding the
   * stream paused (a standby for the next channel) can sit and decode one picture only.
   */
  onKeyframe?: (ts: number) => void;
  maxBacklogBytes?: number;
  /**
   * The sink already carries an FLV stream that another channel fed up to this timestamp (a
   * channel switch): write no FLV header, and move every timestamp so that this channel's
   * first tag follows on from it (the player sees one continuous stream).
   */
  continueAfterTs?: number;
}

/** Whether two channels' init data declare the same codec configuration (a player can go on). */
export function sameCodecs(a: Uint8Array, b: Uint8Array): boolean {
  const configs = (init: Uint8Array) => {
    try {
      const tags = parseFlv(init);
      const avc = tags.find(isAvcSequenceHeader)?.data;
      const aac = tags.find(isAacSequenceHeader)?.data;
      return { avc, aac };
    } catch {
      return null;
    }
  };
  const x = configs(a);
  const y = configs(b);
  const same = (p?: Uint8Array, q?: Uint8Array) =>
    p === undefined || q === undefined ? p === q : Buffer.from(p).equals(Buffer.from(q));
  return x !== null && y !== null && x.avc !== undefined && same(x.avc, y.avc) && same(x.aac, y.aac);
}

/** A fetch in flight is waited for this many gap timeouts before the stream skips it. */
const HUNG_FETCH_FACTOR = 4;

/** How often a stream looks for a lost or late segment to skip (a beat of the heartbeat). */
export const GAP_CHECK_MS = 250;

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
  private readonly stopGapCheck: () => void;
  bytesWritten = 0;
  skips = 0;

  constructor(
    private readonly session: ChannelTimeline,
    private readonly cache: SegmentCache,
    private readonly sink: StreamSink,
    private readonly log: CoreLog,
    private readonly opts: GatewayStreamOptions,
  ) {
    this.gapTimeoutMs = opts.gapTimeoutMs ?? 2500;
    this.maxBacklog = opts.maxBacklogBytes ?? 32 * 1024 * 1024;
    this.unsubscribeCache = cache.subscribe({
      // A tainted stream waits for the next keyframe, which may arrive in any segment.
      onUpdate: (seq) => {
        if (!this.started || seq === this.seq || this.tainted) this.pump();
      },
      onDrop: (seq, reason) => {
        if (seq !== this.seq || this.offset === 0 || reason !== 'hash mismatch') return;
        this.tainted = true;
        this.pump();
      },
    });
    this.unsubscribeSession = session.onChange(() => this.pump());
    this.stopGapCheck = everyBeat(GAP_CHECK_MS, () => this.checkGap());
    this.pump();
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** The init version last written (the codec configuration the player has). */
  get writtenInitVersion(): number | null {
    return this.initVersion;
  }

  /**
   * Stops feeding the sink without ending it (it goes on with another channel); returns the
   * timestamp of the last tag written, or null when nothing was.
   */
  detach(): number | null {
    if (!this.closed) {
      this.closed = true;
      this.stopGapCheck();
      this.unsubscribeCache();
      this.unsubscribeSession();
      this.cache.setReaderPosition(this.opts.readerId, null);
    }
    return this.lastTs;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopGapCheck();
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
    // Read when the start is chosen: the latency target depends on whether the channel's swarm
    // is up, which is known only once channel info has come (often after the player asked).
    const min = this.opts.minStartBufferMs;
    const want = typeof min === 'function' ? min() : (min ?? 500);
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
    if (!this.started && this.opts.continueAfterTs === undefined) {
      this.write(init.subarray(0, FLV_HEADER_SIZE + PREV_TAG_SIZE));
    }
    this.write(encodeTags(tags));
    this.initVersion = version;
    return true;
  }

  /** Timestamp of the last tag written (for the size of a skip). */
  private lastTs: number | null = null;

  /** Added to every timestamp written (a spliced stream); 0 otherwise. */
  private tsOffset = 0;

  private write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    // The FLV header (no tag) is never shifted; tags after a splice are.
    if (this.tsOffset !== 0 && !(bytes[0] === 0x46 && bytes[1] === 0x4c && bytes[2] === 0x56)) {
      bytes = shiftTimestamps(bytes, this.tsOffset);
    }
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
    if (this.started) return this.pumpData();
    const k = this.startPoint();
    if (!k) return;
    if (this.opts.continueAfterTs !== undefined) this.tsOffset = this.opts.continueAfterTs - k.ts;
    this.jumpTo(k);
    if (this.initVersion === null) return;
    this.started = true;
    this.log.info('gateway stream started', { reader: this.opts.readerId, seq: k.seq, ts: k.ts });
    this.pumpData();
    this.opts.onStart?.(k.ts, Math.max(k.ts, this.lastTs ?? k.ts));
  }

  private pumpData(): void {
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
        if (this.opts.onKeyframe) this.tellKeyframes(c.bytes, this.offset, c.tagEnd);
        // A copy: a socket may still be sending these bytes when the cache frees the segment
        // (segment-cache.ts freeNow), and its write queue keeps only the view.
        this.write(c.bytes.slice(this.offset, c.tagEnd));
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

  /** onKeyframe for each keyframe among the whole tags in [from, end) about to be written. */
  private tellKeyframes(bytes: Uint8Array, from: number, end: number): void {
    for (let k = findKeyframe(bytes, end, from); k; k = findKeyframe(bytes, end, k.next)) {
      this.opts.onKeyframe?.(k.ts + this.tsOffset);
    }
  }

  private skipAhead(reason: string): void {
    const k = this.keyframes(this.seq + 1, false).next().value;
    if (!k) return;
    this.skips++;
    const at = k.ts + this.tsOffset;
    if (this.lastTs !== null && at > this.lastTs) this.opts.onSkip?.(at - this.lastTs);
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
    const quiet = Date.now() - this.lastProgress;
    // A segment a source is still fetching is waited for (the engine moves it to the CDN in
    // time); one that nobody fetches, or that hangs far too long, is skipped.
    const late = quiet > this.gapTimeoutMs * (this.session.isFetching(this.seq) ? HUNG_FETCH_FACTOR : 1);
    if (lost || late) {
      const newer = Math.max(this.session.latestSeq ?? -1, this.session.liveEdgeSeq ?? -1);
      if (newer > this.seq) this.skipAhead(lost ? `segment ${this.seq} is lost` : 'segment late');
    }
  }
}
