/**
 * One live channel at the origin: its publisher slot, the segmenter, the window of segments
 * and init versions, blocking-reload waiters, and the plain HTTP-FLV fan-out with a GOP cache.
 */
import { randomBytes } from 'node:crypto';
import {
  encodeFlvHeader,
  encodeTags,
  type FlvTag,
  isAacSequenceHeader,
  isAvcSequenceHeader,
  isMediaFrame,
  isOnMetaData,
  isVideoKeyframe,
} from '../../common/flv';
import { MANIFEST_VERSION, type Manifest, type SegmentEntry } from '../../common/manifest';
import type { Logger } from '../log';
import { type InitData, type Segment, Segmenter } from './segmenter';
import { TimestampRebaser } from './timestamp-rebaser';

export interface ChannelOptions {
  id: string;
  demo?: boolean;
  windowSize?: number;
  targetDurationMs?: number;
  log: Logger;
  now?: () => number;
}

/** What an ingest (RTMP session, HTTP push, demo loop) writes into. */
export interface PublisherSink {
  readonly id: string;
  write(tag: FlvTag): void;
  end(reason: string): void;
}

/** A plain HTTP-FLV viewer. `write` returns false when the client's buffer is full. */
export interface LiveSubscriber {
  write(chunk: Uint8Array): void;
  bufferedBytes(): number;
  close(reason: string): void;
}

/** Follows the segment being built at the live edge. */
export interface PartialListener {
  data(chunk: Uint8Array): void;
  /** The segment was cut (its bytes are now the complete, hashed segment). */
  end(): void;
}

interface PartialSegment {
  seq: number;
  originTime: number;
  startTs: number;
  chunks: Uint8Array[];
  listeners: Set<PartialListener>;
}

interface Waiter {
  after: number;
  /** Woken when the segment begins to be cut, not only once it is complete. */
  started: boolean;
  done: (found: boolean) => void;
}

const MAX_GOP_CACHE_BYTES = 16 * 1024 * 1024;
const MAX_SUBSCRIBER_BACKLOG = 8 * 1024 * 1024;
const MAX_WAITERS = 50_000;

export class Channel {
  readonly id: string;
  readonly demo: boolean;
  readonly stream = Date.now().toString(36) + randomBytes(3).toString('hex');
  readonly targetDurationMs: number;
  private readonly windowSize: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly segmenter: Segmenter;
  private readonly inits = new Map<number, InitData>();
  private readonly window: Segment[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly subscribers = new Set<LiveSubscriber>();
  private publisher: { id: string; rebaser: TimestampRebaser } | null = null;
  private publisherCount = 0;
  /** Live-path state: headers and the tags since the last keyframe. */
  private liveMeta: FlvTag | null = null;
  private liveAvc: FlvTag | null = null;
  private liveAac: FlvTag | null = null;
  private gop: FlvTag[] = [];
  private gopBytes = 0;
  /** Timestamp at which the next publisher continues. */
  private resumeAt = 0;
  private readonly segmentListeners = new Set<(s: Segment) => void>();
  private partial: PartialSegment | null = null;
  /** Segments cut since the channel was created (all streams): the metrics' counter. */
  segmentsCut = 0;

  constructor(opts: ChannelOptions) {
    this.id = opts.id;
    this.demo = opts.demo ?? false;
    this.windowSize = opts.windowSize ?? 30;
    this.targetDurationMs = opts.targetDurationMs ?? 1000;
    this.log = opts.log.child({ channel: opts.id });
    this.now = opts.now ?? Date.now;
    this.segmenter = new Segmenter({
      targetDurationMs: this.targetDurationMs,
      onInit: (init) => {
        this.inits.set(init.version, init);
        this.log.info(
          { initVersion: init.version, hasAudio: init.hasAudio, hasVideo: init.hasVideo },
          'new init',
        );
      },
      onSegment: (s) => this.addSegment(s),
      onPartial: (seq, bytes, open) => {
        let p = this.partial;
        let begun = false;
        if (!p || p.seq !== seq) {
          p = { seq, originTime: open.originTime, startTs: open.startTs, chunks: [], listeners: new Set() };
          this.partial = p;
          begun = true;
        }
        p.chunks.push(bytes);
        for (const l of p.listeners) l.data(bytes);
        // Requests held for this segment's start wake once, as its cut begins (a later one sees
        // `partial` at once), not at each of its ~70 chunks a second.
        if (begun) this.wakeWaiters(seq, true);
      },
    });
  }

  get live(): boolean {
    return this.publisher !== null;
  }

  get latestSeq(): number | null {
    return this.window.length ? this.window[this.window.length - 1]!.seq : null;
  }

  get segments(): readonly Segment[] {
    return this.window;
  }

  onSegment(listener: (s: Segment) => void): () => void {
    this.segmentListeners.add(listener);
    return () => this.segmentListeners.delete(listener);
  }

  /** Claims the publisher slot; returns an error message when the channel already has a publisher. */
  publish(source: string): PublisherSink | string {
    if (this.publisher) return `channel ${this.id} already has a publisher (${this.publisher.id})`;
    const id = `${source}#${++this.publisherCount}`;
    const rebaser = new TimestampRebaser({ startAt: this.resumeAt });
    const slot = { id, rebaser };
    this.publisher = slot;
    this.log.info({ publisher: id, startAt: this.resumeAt }, 'publisher started');
    return {
      id,
      write: (tag) => {
        if (this.publisher !== slot) return;
        this.ingest({ ...tag, timestamp: rebaser.map(tag.timestamp) });
      },
      end: (reason) => {
        if (this.publisher !== slot) return;
        this.publisher = null;
        this.resumeAt = Math.max(this.segmenter.flush(), rebaser.lastOutput + 1);
        this.gop = [];
        this.gopBytes = 0;
        this.log.info({ publisher: id, reason, dropped: this.segmenter.droppedTags }, 'publisher ended');
        for (const s of this.subscribers) s.close('publisher ended');
        this.subscribers.clear();
        this.wakeWaiters(Number.MAX_SAFE_INTEGER);
      },
    };
  }

  private ingest(tag: FlvTag): void {
    this.segmenter.push(tag, this.now());
    this.feedLive(tag);
  }

  private addSegment(s: Segment): void {
    const p = this.partial;
    if (p && p.seq === s.seq) {
      this.partial = null;
      for (const l of p.listeners) l.end();
    }
    this.window.push(s);
    this.segmentsCut++;
    while (this.window.length > this.windowSize) this.window.shift();
    const versions = new Set(this.window.map((w) => w.initVersion));
    const current = this.segmenter.currentInit?.version;
    for (const v of this.inits.keys()) if (!versions.has(v) && v !== current) this.inits.delete(v);
    this.wakeWaiters(s.seq);
    for (const l of this.segmentListeners) l(s);
  }

  getSegment(seq: number): Segment | undefined {
    const first = this.window[0];
    if (!first) return undefined;
    return this.window[seq - first.seq];
  }

  /**
   * Subscribes to the segment being built if `seq` is it: returns its bytes so far (the
   * listener gets the rest and then `end`), or null when `seq` is not in progress.
   */
  followPartial(
    seq: number,
    listener: PartialListener,
  ): {
    originTime: number;
    startTs: number;
    initVersion: number;
    chunks: Uint8Array[];
    stop: () => void;
  } | null {
    const p = this.partial;
    const init = this.segmenter.currentInit;
    if (!p || p.seq !== seq || !init) return null;
    p.listeners.add(listener);
    return {
      originTime: p.originTime,
      startTs: p.startTs,
      initVersion: init.version,
      chunks: [...p.chunks],
      stop: () => p.listeners.delete(listener),
    };
  }

  getInit(version: number): InitData | undefined {
    return this.inits.get(version);
  }

  /** The seq the cut begins next (the one after the segment being cut, or after the newest). */
  get nextCutSeq(): number {
    return (this.partial?.seq ?? this.latestSeq ?? -1) + 1;
  }

  /**
   * Resolves true once a segment with seq > after exists (`started`: or is being cut), false on
   * timeout, publisher end or abort.
   */
  waitForSegmentAfter(
    after: number,
    timeoutMs: number,
    signal?: AbortSignal,
    started = false,
  ): Promise<boolean> {
    const latest = this.latestSeq;
    if (latest !== null && latest > after) return Promise.resolve(true);
    if (started && this.partial && this.partial.seq > after) return Promise.resolve(true);
    if (this.waiters.size >= MAX_WAITERS) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after,
        started,
        done: (found) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(waiter);
          resolve(found);
        },
      };
      const onAbort = () => waiter.done(false);
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort);
      this.waiters.add(waiter);
    });
  }

  private wakeWaiters(seq: number, started = false): void {
    for (const w of [...this.waiters]) {
      if (seq > w.after && (w.started || !started)) w.done(seq !== Number.MAX_SAFE_INTEGER);
    }
  }

  manifest(): Manifest {
    const segments: SegmentEntry[] = this.window.map((s) => ({
      seq: s.seq,
      initVersion: s.initVersion,
      startTs: s.startTs,
      durationMs: s.durationMs,
      size: s.data.length,
      sha256: s.sha256,
      keyframeOffset: s.keyframeOffset,
      originTime: s.originTime,
    }));
    return {
      v: MANIFEST_VERSION,
      channel: this.id,
      stream: this.stream,
      live: this.live,
      targetDurationMs: this.targetDurationMs,
      generatedAt: this.now(),
      inits: [...this.inits.values()].map((i) => ({
        version: i.version,
        size: i.data.length,
        sha256: i.sha256,
      })),
      segments,
    };
  }

  /** Bitrate over the window, in kbit/s. */
  bitrateKbps(): number {
    let bytes = 0;
    let ms = 0;
    for (const s of this.window) {
      bytes += s.data.length;
      ms += s.durationMs;
    }
    return ms > 0 ? Math.round((bytes * 8) / ms) : 0;
  }

  // ---- plain HTTP-FLV (the baseline players use without Swarmcast) ----

  private feedLive(tag: FlvTag): void {
    if (isOnMetaData(tag)) {
      this.liveMeta = { ...tag, timestamp: 0 };
      return;
    }
    const header = isAvcSequenceHeader(tag) ? 'avc' : isAacSequenceHeader(tag) ? 'aac' : null;
    if (header) {
      const prev = header === 'avc' ? this.liveAvc : this.liveAac;
      if (prev && Buffer.compare(prev.data, tag.data) === 0) return;
      if (header === 'avc') this.liveAvc = tag;
      else this.liveAac = tag;
      this.broadcast(encodeTags([tag]));
      return;
    }
    if (!isMediaFrame(tag)) return;
    if (isVideoKeyframe(tag)) {
      this.gop = [];
      this.gopBytes = 0;
    }
    if (this.gop.length > 0 || isVideoKeyframe(tag) || !this.liveAvc) {
      if (this.gopBytes + tag.data.length <= MAX_GOP_CACHE_BYTES) {
        this.gop.push(tag);
        this.gopBytes += tag.data.length;
      }
    }
    if (this.subscribers.size) this.broadcast(encodeTags([tag]));
  }

  private broadcast(chunk: Uint8Array): void {
    for (const s of this.subscribers) {
      if (s.bufferedBytes() > MAX_SUBSCRIBER_BACKLOG) {
        this.subscribers.delete(s);
        s.close('viewer too slow');
        continue;
      }
      s.write(chunk);
    }
  }

  /** Starts a plain HTTP-FLV viewer at the latest keyframe; false when the channel is offline. */
  subscribeLive(sub: LiveSubscriber): (() => void) | null {
    if (!this.publisher || (!this.liveAvc && !this.liveAac)) return null;
    const headerTags: FlvTag[] = [];
    const first = this.gop[0]?.timestamp ?? 0;
    if (this.liveMeta) headerTags.push(this.liveMeta);
    if (this.liveAvc) headerTags.push({ ...this.liveAvc, timestamp: first });
    if (this.liveAac) headerTags.push({ ...this.liveAac, timestamp: first });
    sub.write(encodeFlvHeader(this.liveAac !== null, this.liveAvc !== null));
    sub.write(encodeTags([...headerTags, ...this.gop]));
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
  }

  /** Shutting down: blocking reloads are answered now and HTTP-FLV viewers are closed. */
  drain(reason: string): void {
    for (const w of [...this.waiters]) w.done(false);
    for (const sub of [...this.subscribers]) sub.close(reason);
    this.subscribers.clear();
  }

  get liveViewerCount(): number {
    return this.subscribers.size;
  }
}
