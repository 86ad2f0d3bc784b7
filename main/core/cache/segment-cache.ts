/**
 * Segment cache: segment bytes by seq, filled by sources (CDN today, peers and seeds next),
 * read by the gateway. Verified data only is offered for re-sharing; a segment still
 * arriving from the CDN's live edge is readable tag by tag (whole tags only) so the player
 * stays close to live. A byte budget evicts what every reader has passed, oldest first; what
 * every reader has passed and the live window has left goes whatever the budget.
 */
import { wholeTagsEnd } from '../../../common/flv';

export type SourceKind = 'cdn' | 'p2p' | 'seed';

export interface CachedSegment {
  readonly seq: number;
  /** Bytes received so far (a prefix of the segment). */
  readonly bytes: Uint8Array;
  /** Length of the prefix made of whole FLV tags: what a reader may use. */
  readonly tagEnd: number;
  readonly complete: boolean;
  /** True once the complete bytes matched the signed manifest's SHA-256. */
  readonly verified: boolean;
  readonly source: SourceKind;
  /**
   * May be played before verification: the live-edge segment streaming from the origin/CDN
   * (trusted HTTPS transport). Still verified when complete, and never re-shared before that.
   */
  readonly streamable: boolean;
}

export interface CacheEvents {
  /** New readable bytes (or completion / verification) for `seq`. */
  onUpdate(seq: number): void;
  /** A segment's bytes were thrown away (corrupt or evicted). */
  onDrop?(seq: number, reason: string): void;
}

export interface SegmentCache {
  get(seq: number): CachedSegment | undefined;
  has(seq: number): boolean;
  /** Starts (or restarts) a segment from `source`; discards what an earlier attempt left. */
  begin(seq: number, source: SourceKind, streamable?: boolean, sizeHint?: number): void;
  append(seq: number, chunk: Uint8Array): void;
  /** Marks the segment complete; `verified` says whether its hash matched. */
  finish(seq: number, verified: boolean): void;
  /** Stores a whole verified segment at once (the cache keeps `bytes`; the caller must not change them). */
  put(seq: number, bytes: Uint8Array, source: SourceKind): void;
  drop(seq: number, reason: string): void;
  /**
   * Segments before `seq` have left the manifest's live window: no neighbour can ask for them
   * and no player starts there, so once every reader has passed them they are dropped
   * whatever the budget (the cache then stays about a window's size however long one watches).
   * A new stream starts its seqs again: the horizon follows the manifest down as well as up.
   */
  setHorizon(seq: number): void;
  /** Seqs at or after `seq` are still wanted by a reader (pins them against eviction). */
  setReaderPosition(reader: string, seq: number | null): void;
  subscribe(listener: CacheEvents): () => void;
  readonly totalBytes: number;
  readonly budgetBytes: number;
  setBudget(bytes: number): void;
}

class Entry implements CachedSegment {
  bytes: Uint8Array;
  length = 0;
  tagEnd = 0;
  complete = false;
  verified = false;

  constructor(
    readonly seq: number,
    public source: SourceKind,
    readonly streamable: boolean,
    capacity = 64 * 1024,
  ) {
    this.bytes = new Uint8Array(Math.max(capacity, 1));
  }

  /** A whole segment, kept as it is (no copy). */
  static whole(seq: number, source: SourceKind, bytes: Uint8Array): Entry {
    const e = new Entry(seq, source, false, 0);
    e.bytes = bytes;
    e.length = bytes.length;
    e.tagEnd = wholeTagsEnd(bytes, 0, bytes.length);
    e.complete = true;
    e.verified = true;
    return e;
  }

  view(): CachedSegment {
    return {
      seq: this.seq,
      bytes: this.bytes.subarray(0, this.length),
      tagEnd: this.tagEnd,
      complete: this.complete,
      verified: this.verified,
      source: this.source,
      streamable: this.streamable,
    };
  }

  append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + chunk.length));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(chunk, this.length);
    this.length += chunk.length;
    // Advance over whole tags only.
    this.tagEnd = wholeTagsEnd(this.bytes, this.tagEnd, this.length);
  }
}

export class MemorySegmentCache implements SegmentCache {
  private readonly entries = new Map<number, Entry>();
  private readonly listeners = new Set<CacheEvents>();
  private readonly readers = new Map<string, number | null>();
  private bytes = 0;
  private horizon = Number.NEGATIVE_INFINITY;

  /**
   * @param keepNewest the newest this many complete segments are never evicted, whatever the
   *   budget: what a peer has announced it must keep serving (PROMISED_SEGMENTS in the wire protocol).
   */
  constructor(
    private budget: number,
    private readonly keepNewest = 0,
  ) {}

  get totalBytes(): number {
    return this.bytes;
  }

  get budgetBytes(): number {
    return this.budget;
  }

  setBudget(bytes: number): void {
    this.budget = bytes;
    this.evict();
  }

  get(seq: number): CachedSegment | undefined {
    return this.entries.get(seq)?.view();
  }

  has(seq: number): boolean {
    return this.entries.has(seq);
  }

  begin(seq: number, source: SourceKind, streamable = false, sizeHint?: number): void {
    this.remove(seq);
    this.entries.set(seq, new Entry(seq, source, streamable, sizeHint));
  }

  append(seq: number, chunk: Uint8Array): void {
    const e = this.entries.get(seq);
    if (!e || e.complete) return;
    const before = e.tagEnd;
    e.append(chunk);
    this.bytes += chunk.length;
    if (e.tagEnd !== before) this.emit(seq);
    this.evict();
  }

  finish(seq: number, verified: boolean): void {
    const e = this.entries.get(seq);
    if (!e) return;
    e.complete = true;
    e.verified = verified;
    this.emit(seq);
  }

  put(seq: number, bytes: Uint8Array, source: SourceKind): void {
    this.remove(seq);
    this.entries.set(seq, Entry.whole(seq, source, bytes));
    this.bytes += bytes.length;
    this.emit(seq);
    this.evict();
  }

  drop(seq: number, reason: string): void {
    if (this.remove(seq) === null) return;
    for (const l of this.listeners) l.onDrop?.(seq, reason);
  }

  setHorizon(seq: number): void {
    if (seq === this.horizon) return;
    this.horizon = seq;
    this.evict();
  }

  setReaderPosition(reader: string, seq: number | null): void {
    if (seq === null) this.readers.delete(reader);
    else this.readers.set(reader, seq);
    this.evict();
  }

  subscribe(listener: CacheEvents): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private remove(seq: number): Entry | null {
    const e = this.entries.get(seq);
    if (!e) return null;
    this.entries.delete(seq);
    this.bytes -= e.length;
    return e;
  }

  /**
   * Whether a complete segment older than `seq` is held (found without sorting). Over a copy
   * of the keys, not for-of over the entries: a lean viewer runs V8's baseline code, where
   * for-of allocates per element (spreading a Map's keys does not).
   */
  private hasOlderThan(seq: number): boolean {
    const seqs = [...this.entries.keys()];
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i]!;
      if (s < seq && this.entries.get(s)!.complete) return true;
    }
    return false;
  }

  private emit(seq: number): void {
    for (const l of this.listeners) l.onUpdate(seq);
  }

  /**
   * Evicts complete segments that no reader still needs and no promise keeps, oldest first:
   * those behind the horizon always, the rest while over budget.
   */
  private evict(): void {
    if (this.bytes <= this.budget && !this.hasOlderThan(this.horizon)) return;
    let floor = Number.POSITIVE_INFINITY;
    for (const pos of this.readers.values()) if (pos !== null && pos < floor) floor = pos;
    const seqs = [...this.entries.keys()].sort((a, b) => a - b);
    const complete = seqs.filter((seq) => this.entries.get(seq)!.complete);
    if (this.keepNewest > 0 && complete.length > 0)
      floor = Math.min(floor, complete[Math.max(0, complete.length - this.keepNewest)]!);
    for (const seq of complete) {
      if (this.bytes <= this.budget && seq >= this.horizon) return;
      if (seq >= floor) return;
      freeNow(this.remove(seq)!.bytes);
      for (const l of this.listeners) l.onDrop?.(seq, 'evicted');
    }
  }
}

/**
 * Gives an evicted segment's memory back now rather than at V8's next full collection. A
 * segment stays in the cache for the live window, long enough to be promoted to the old
 * generation, where only a full collection (5-20 ms here, and V8 waits for 64 MB of such
 * memory) frees its bytes; moved (transferred) into a new ArrayBuffer that nothing references,
 * they go with the next minor collection. The old views read as empty from then on, so whoever
 * keeps a segment's bytes past the current turn of the event loop keeps a copy (the gateway,
 * whose socket may still be sending) or checks their length before each use (the uploader).
 * Bytes that share their ArrayBuffer with anything else are left to the collector.
 */
export function freeNow(bytes: Uint8Array): void {
  const buf = bytes.buffer;
  if (!(buf instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== buf.byteLength) return;
  structuredClone(buf, { transfer: [buf] });
}
