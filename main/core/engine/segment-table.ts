/**
 * The segment table: every per-segment fact of one channel in one place, for the live window
 * only — the signed manifest entry, where the segment is being fetched from, attempts and
 * retry time, verified or lost, which neighbours hold it, and peer bytes waiting for their
 * entry. Records older than the window are dropped, so everything that walks the table (the
 * planner's snapshot, announcements, the gateway's keyframe search) costs O(window), whatever
 * the watch time. The bytes themselves live in the segment cache.
 */
import type { Anchor } from '../../../common/latency';
import type { SegmentEntry } from '../../../common/manifest';
import type { PeerRole } from '../../../common/tracker-protocol';

export type SegmentStatus = 'missing' | 'fetching' | 'complete' | 'verified' | 'lost';
export type SourceName = 'cdn' | 'peer';

export interface ActiveFetch {
  source: SourceName;
  /** The neighbour asked (peer fetches). */
  peer: string | null;
  startedAt: number;
  /** Streaming from the CDN while the origin still cuts it. */
  liveEdge: boolean;
}

export interface SegmentRecord {
  readonly seq: number;
  /** The signed manifest entry; null until the manifest lists the segment. */
  entry: SegmentEntry | null;
  /** When the entry arrived here (local clock): the first-copy rule counts from it. */
  listedAt: number | null;
  status: SegmentStatus;
  fetch: ActiveFetch | null;
  attempts: number;
  /** No new attempt before this time (back-off after a failure). */
  retryAt: number;
  /** Neighbours that announced the segment. */
  holders: Set<string>;
  /** Peer bytes that came before the entry: checked when it arrives. */
  early: { bytes: Uint8Array; peer: string; role: PeerRole } | null;
  /** Live-edge timing from the origin's headers, before the entry exists. */
  edgeOriginTime: number | null;
  edgeStartTs: number | null;
}

/** Records kept behind the manifest's oldest entry (a slow reader may still be on them). */
const KEEP_BEHIND = 8;
/** How far behind the newest entry a record may be created (a neighbour's announcement). */
const BEHIND_LIMIT = 64;
/** Segments ahead of the newest entry a neighbour may announce, or send early. */
export const AHEAD_LIMIT = 3;

export class SegmentTable {
  private readonly records = new Map<number, SegmentRecord>();
  /** Newest seq the manifest lists. */
  latest: number | null = null;
  /** Oldest seq this viewer wants (its start point); moves forward with the window. */
  wantFrom: number | null = null;
  /** Last live-edge segment that finished streaming (its entry may still be on its way). */
  edgeDone: number | null = null;
  stream: string | null = null;
  live = false;
  /** Bumped whenever entries are added or dropped (the anchors' memo checks it). */
  private entriesVersion = 0;
  private anchorsMemo: {
    version: number;
    latest: number | null;
    max: number;
    edgeTs: number | null;
    edgeOrigin: number | null;
    value: readonly Anchor[];
  } | null = null;

  /** Forgets everything: a new stream on the channel. */
  reset(stream: string): void {
    this.records.clear();
    this.entriesVersion++;
    this.stream = stream;
    this.latest = null;
    this.wantFrom = null;
    this.edgeDone = null;
  }

  get(seq: number): SegmentRecord | undefined {
    return this.records.get(seq);
  }

  /** The record of `seq`, created if it is inside the window. */
  ensure(seq: number): SegmentRecord | undefined {
    let r = this.records.get(seq);
    if (r) return r;
    if (!this.inWindow(seq)) return undefined;
    r = {
      seq,
      entry: null,
      listedAt: null,
      status: 'missing',
      fetch: null,
      attempts: 0,
      retryAt: 0,
      holders: new Set(),
      early: null,
      edgeOriginTime: null,
      edgeStartTs: null,
    };
    this.records.set(seq, r);
    return r;
  }

  inWindow(seq: number): boolean {
    if (this.latest === null) return true;
    return seq <= this.latest + AHEAD_LIMIT && seq >= this.latest - BEHIND_LIMIT;
  }

  /** The segment after the newest listed or streamed one: where the live edge is cut. */
  nextEdgeSeq(): number {
    return Math.max(this.latest ?? -1, this.edgeDone ?? -1) + 1;
  }

  /**
   * The live-edge segment to ask the CDN for now, if any: the one being cut; and while that one
   * streams, the one after it, which the origin holds until the cut begins it, so the boundary
   * between them costs no request round trip (a busy machine's round trips are what stalled
   * low-latency playback at segment boundaries).
   */
  liveEdgeWanted(now: number): number | null {
    if (!this.live || this.latest === null) return null;
    const edge = this.nextEdgeSeq();
    const streaming = this.get(edge)?.fetch?.liveEdge === true;
    const want = streaming ? edge + 1 : edge;
    if (this.get(want)?.fetch?.liveEdge || (!streaming && this.get(edge - 1)?.fetch?.liveEdge)) return null;
    const r = this.get(want);
    if (r && (r.status !== 'missing' || now < r.retryAt)) return null;
    return want;
  }

  entry(seq: number): SegmentEntry | undefined {
    return this.records.get(seq)?.entry ?? undefined;
  }

  isLost(seq: number): boolean {
    return this.records.get(seq)?.status === 'lost';
  }

  /**
   * The manifest's entries: new ones are recorded (returned, oldest first); records older
   * than the manifest's window are dropped.
   */
  addEntries(entries: readonly SegmentEntry[], now: number): SegmentRecord[] {
    const added: SegmentRecord[] = [];
    // Indexed loops: once a second over the whole window, in V8's baseline code in a viewer.
    for (let i = 0; i < entries.length; i++) {
      const seq = entries[i]!.seq;
      if (this.latest === null || seq > this.latest) this.latest = seq;
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const r = this.ensure(e.seq);
      if (!r || r.entry) continue;
      r.entry = e;
      r.listedAt = now;
      added.push(r);
    }
    const first = entries[0]?.seq;
    this.entriesVersion++;
    if (first !== undefined) {
      this.records.forEach((_, seq) => {
        if (seq < first - KEEP_BEHIND) this.records.delete(seq);
      });
      if (this.wantFrom !== null && this.wantFrom < first - KEEP_BEHIND) this.wantFrom = first - KEEP_BEHIND;
    }
    return added;
  }

  /**
   * Records from `from` to `to` (inclusive) that exist, oldest first. Callers pass bounds
   * inside the window (wantFrom is kept at most KEEP_BEHIND below the manifest's oldest entry).
   * An array, not a generator: a lean viewer runs V8's baseline code, where a generator
   * allocates an object per record it yields, several times a second.
   */
  range(from: number, to: number): SegmentRecord[] {
    const out: SegmentRecord[] = [];
    for (let seq = Math.max(from, to - BEHIND_LIMIT - AHEAD_LIMIT); seq <= to; seq++) {
      const r = this.records.get(seq);
      if (r) out.push(r);
    }
    return out;
  }

  /** Every record, in no particular order. */
  all(): IterableIterator<SegmentRecord> {
    return this.records.values();
  }

  /** A neighbour holds these segments. */
  addHolder(peer: string, seqs: readonly number[]): boolean {
    let any = false;
    for (const seq of seqs) {
      const r = this.ensure(seq);
      if (!r || r.holders.has(peer)) continue;
      r.holders.add(peer);
      any = true;
    }
    return any;
  }

  dropHolder(peer: string, seq?: number): void {
    if (seq !== undefined) {
      this.records.get(seq)?.holders.delete(peer);
      return;
    }
    for (const r of this.records.values()) r.holders.delete(peer);
  }

  verifiedSeqs(): number[] {
    const out: number[] = [];
    for (const r of this.records.values()) if (r.status === 'verified') out.push(r.seq);
    return out.sort((a, b) => a - b);
  }

  /**
   * (FLV timestamp, origin wall-clock) pairs of the newest segments, oldest first. The same
   * array until an entry or the edge changes (players read it at each live-sync decision);
   * callers must not change it.
   */
  anchors(edgeSeq: number | null, max = 16): readonly Anchor[] {
    const edge = edgeSeq === null ? undefined : this.records.get(edgeSeq);
    const edgeTs = edge && !edge.entry ? edge.edgeStartTs : null;
    const edgeOrigin = edge && !edge.entry ? edge.edgeOriginTime : null;
    const c = this.anchorsMemo;
    if (
      c &&
      c.version === this.entriesVersion &&
      c.latest === this.latest &&
      c.max === max &&
      c.edgeTs === edgeTs &&
      c.edgeOrigin === edgeOrigin
    )
      return c.value;
    const out: Anchor[] = [];
    if (this.latest !== null) {
      for (let seq = this.latest - max + 1; seq <= this.latest; seq++) {
        const e = this.records.get(seq)?.entry;
        if (e) out.push({ ts: e.startTs, originTime: e.originTime });
      }
    }
    if (edgeTs !== null && edgeOrigin !== null) out.push({ ts: edgeTs, originTime: edgeOrigin });
    const value = out.length > max ? out.slice(-max) : out;
    this.anchorsMemo = { version: this.entriesVersion, latest: this.latest, max, edgeTs, edgeOrigin, value };
    return value;
  }
}
