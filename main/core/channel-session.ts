/**
 * One joined channel: asks the server for channel info, follows the signed manifest by
 * blocking reload, and keeps the segment cache filled from the live edge onwards. Every
 * segment's bytes are checked against the signed manifest's SHA-256 before they count as
 * verified; a mismatch is thrown away and fetched again.
 *
 * Fetch decisions go through one place (`schedule`), so that the peer source can take over
 * the segments that are not urgent without the gateway or the renderer noticing.
 */
import type { KeyObject } from 'node:crypto';
import type { ComChannelInfo, SubRoomHints } from '../../common/com';
import type { SessionState } from '../../common/ipc-contract';
import type { Manifest, SegmentEntry } from '../../common/manifest';
import { ManifestRejected, OriginClient, OriginError, sha256Hex } from './origin-client';
import { PeerExchange, type SwarmFactory } from './peer-exchange';
import type { SegmentCache } from './segment-cache';
import type { CoreLog } from './viewer-core-api';

export interface ChannelSessionOptions {
  serverUrl: string;
  channel: string;
  cache: SegmentCache;
  log: CoreLog;
  /** Parallel complete-segment fetches from the CDN. */
  maxParallel?: number;
  /** First retry delay after an error; doubles up to 10 s. */
  retryBaseMs?: number;
  hints?: SubRoomHints;
  swarm?: SwarmFactory;
  /**
   * Fetch policy, read on every scheduling step (settings apply live): whether peers are
   * used, and how far behind live the player sits (which sets each segment's deadline).
   */
  policy?: () => { p2p: boolean; latencyTargetMs: number; downloadCapKbps?: number | null };
  /** Seeds take every segment at once from the CDN and never fetch from peers. */
  role?: 'viewer' | 'seed';
}

export interface ChannelSnapshot {
  state: SessionState;
  message: string | null;
}

interface LiveEdge {
  seq: number;
  originTime: number | null;
  startTs: number | null;
}

const MAX_FETCH_ATTEMPTS = 4;

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ChannelSession {
  readonly channel: string;
  /** COM service (channel info). */
  private readonly com: OriginClient;
  /** CDN/origin (manifests, init, segments); known after the first channel info. */
  private client: OriginClient;
  /** The swarm side: peer node, peer downloads, the peer half of scheduling. */
  readonly peers: PeerExchange;
  private loopTimer: NodeJS.Timeout | null = null;
  readonly cache: SegmentCache;
  readonly log: CoreLog;
  private readonly maxParallel: number;
  private readonly retryBaseMs: number;
  private readonly abort = new AbortController();
  private key: KeyObject | null = null;
  private stream_: string | null = null;
  private live = false;
  private readonly entries = new Map<number, SegmentEntry>();
  private readonly inits = new Map<number, Uint8Array>();
  private latestInitVersion: number | null = null;
  private latest: number | null = null;
  private wantFrom: number | null = null;
  private readonly inFlight = new Set<number>();
  private readonly attempts = new Map<number, number>();
  private readonly lost = new Set<number>();
  private liveEdge: LiveEdge | null = null;
  private liveEdgeFetching = false;
  /** Last live-edge segment that finished streaming (its manifest entry may still be on its way). */
  private edgeDone: number | null = null;
  private state: SessionState = 'joining';
  private message: string | null = null;
  private readonly listeners = new Set<() => void>();
  clockOffsetMs = 0;
  bytesCdn = 0;
  bytesP2p = 0;
  bytesSeed = 0;
  hashFailures = 0;
  closed = false;

  constructor(opts: ChannelSessionOptions) {
    this.opts = opts;
    this.channel = opts.channel;
    this.com = new OriginClient(opts.serverUrl);
    this.client = this.com;
    this.cache = opts.cache;
    this.log = opts.log;
    this.maxParallel = opts.maxParallel ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.peers = new PeerExchange(
      {
        channel: this.channel,
        cache: this.cache,
        log: this.log,
        get latestSeq() {
          return session.latest;
        },
        get clockOffsetMs() {
          return session.clockOffsetMs;
        },
        stream: () => this.stream_,
        initVersion: () => this.latestInitVersion ?? 0,
        entry: (seq) => this.entries.get(seq),
        entrySeqs: () => this.entries.keys(),
        cdnInFlight: (seq) => this.inFlight.has(seq),
        isLost: (seq) => this.lost.has(seq),
        fetchFromCdn: (seq) => void this.fetchSegment(seq, false),
        received: (source, n) => {
          if (source === 'seed') this.bytesSeed += n;
          else this.bytesP2p += n;
        },
        hashFailed: () => void this.hashFailures++,
        changed: () => this.changed(),
        schedule: () => this.schedule(),
      },
      opts.swarm,
    );
    const session = this;
    void this.run();
  }

  private readonly opts: ChannelSessionOptions;

  /** Called on every change of state, manifest or live edge. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): ChannelSnapshot {
    return { state: this.state, message: this.message };
  }

  get latestSeq(): number | null {
    return this.latest;
  }

  get liveEdgeSeq(): number | null {
    return this.liveEdge?.seq ?? null;
  }

  entry(seq: number): SegmentEntry | undefined {
    return this.entries.get(seq);
  }

  /** Verified init data by version. */
  init(version: number): Uint8Array | undefined {
    return this.inits.get(version);
  }

  /** Init version of a segment; the live edge is in the newest version. */
  initVersionOf(seq: number): number | null {
    return this.entries.get(seq)?.initVersion ?? (seq === this.liveEdge?.seq ? this.latestInitVersion : null);
  }

  /** Segments that will never arrive (outside the window, or failing again and again). */
  isLost(seq: number): boolean {
    return this.lost.has(seq);
  }

  /** (FLV timestamp, origin wall-clock) pairs of the newest segments, oldest first. */
  anchors(max = 16): Array<{ ts: number; originTime: number }> {
    const out: Array<{ ts: number; originTime: number }> = [];
    const seqs = [...this.entries.keys()].sort((a, b) => a - b).slice(-max);
    for (const s of seqs) {
      const e = this.entries.get(s)!;
      out.push({ ts: e.startTs, originTime: e.originTime });
    }
    const edge = this.liveEdge;
    if (edge && edge.startTs !== null && edge.originTime !== null && !this.entries.has(edge.seq)) {
      out.push({ ts: edge.startTs, originTime: edge.originTime });
    }
    return out.slice(-max);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'closed';
    this.abort.abort();
    if (this.loopTimer) clearInterval(this.loopTimer);
    this.peers.stop();
    this.listeners.clear();
  }

  get hasSwarm(): boolean {
    return this.peers.active;
  }

  private setState(state: SessionState, message: string | null): void {
    if (this.state === state && this.message === message) return;
    this.state = state;
    this.message = message;
    this.log.info('channel state', { channel: this.channel, state, message });
    this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private failState(err: unknown): void {
    if (err instanceof OriginError && err.status === 0) {
      this.setState('unreachable', `The server cannot be reached (${err.message}). Retrying…`);
    } else if (err instanceof OriginError && err.status === 404) {
      this.setState('offline', `Channel "${this.channel}" is not on the air.`);
    } else {
      this.setState('error', `The channel cannot be played: ${describe(err)}. Retrying…`);
    }
  }

  private async run(): Promise<void> {
    let delay = this.retryBaseMs;
    while (!this.closed) {
      try {
        if (!this.key) {
          const info = await this.com.channelInfo(this.channel, this.opts.hints, this.abort.signal);
          this.key = info.publicKey;
          this.clockOffsetMs = info.clockOffsetMs;
          this.client = new OriginClient(info.com.originBaseUrl);
          // The swarm first: whether peers are in use sets the latency target the start depends on.
          this.startSwarm(info.com);
          await this.apply(info.manifest);
        } else {
          const after = this.live ? (this.latest ?? -1) : null;
          const m = await this.client.manifest(this.channel, this.key, after, this.abort.signal);
          await this.apply(m);
          if (!m.live) await this.sleep(1000);
        }
        delay = this.retryBaseMs;
      } catch (err) {
        if (this.closed) return;
        if (err instanceof ManifestRejected)
          this.log.warn('manifest rejected', { channel: this.channel, reason: err.message });
        else this.log.warn('channel request failed', { channel: this.channel, error: describe(err) });
        this.failState(err);
        await this.sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private async apply(m: Manifest): Promise<void> {
    if (this.stream_ !== m.stream) {
      if (this.stream_ !== null) {
        this.log.info('channel restarted with a new stream', { channel: this.channel, stream: m.stream });
        for (const seq of this.entries.keys()) this.cache.drop(seq, 'stream changed');
        if (this.liveEdge) this.cache.drop(this.liveEdge.seq, 'stream changed');
      }
      this.stream_ = m.stream;
      this.entries.clear();
      this.inits.clear();
      this.attempts.clear();
      this.lost.clear();
      this.liveEdge = null;
      this.edgeDone = null;
      this.wantFrom = null;
      this.latest = null;
    }
    // Init data is fetched while the segments start coming (one round trip less to the first frame).
    const initFetches = m.inits
      .filter((i) => !this.inits.has(i.version))
      .map(async (i) => {
        const data = await this.client.init(this.channel, m.stream, i.version, this.abort.signal);
        if (data.length !== i.size || sha256Hex(data) !== i.sha256) {
          throw new ManifestRejected(`init version ${i.version} does not match its signed hash`);
        }
        this.inits.set(i.version, data);
        if (this.latestInitVersion === null || i.version > this.latestInitVersion)
          this.latestInitVersion = i.version;
      });
    for (const s of m.segments) {
      if (this.entries.has(s.seq)) continue;
      this.entries.set(s.seq, s);
      this.peers.entryArrived(s.seq);
      // A segment that finished arriving before its manifest entry is verified now.
      const cached = this.cache.get(s.seq);
      if (cached?.complete && !cached.verified && !this.inFlight.has(s.seq)) this.verify(s.seq);
    }
    const first = m.segments[0]?.seq;
    for (const seq of [...this.entries.keys()])
      if (first === undefined || seq < first - 8) this.entries.delete(seq);
    this.live = m.live;
    const last = m.segments[m.segments.length - 1];
    if (last) this.latest = last.seq;
    if (this.wantFrom === null && last) {
      // Start at the newest keyframe that leaves the player its target latency of media (the
      // gateway's first GOP comes from there); a seed starts at the live edge.
      const behindMs = this.opts.role === 'seed' ? 0 : this.policy().latencyTargetMs;
      const edgeTs = last.startTs + last.durationMs;
      const keyed = [...m.segments].reverse().filter((s) => s.keyframeOffset !== null);
      const start = keyed.find((s) => edgeTs - s.startTs >= behindMs) ?? keyed[keyed.length - 1];
      this.wantFrom = start?.seq ?? last.seq;
    }
    if (this.liveEdge && this.latest !== null && this.liveEdge.seq <= this.latest && !this.liveEdgeFetching) {
      this.liveEdge = null;
    }
    this.schedule();
    await Promise.all(initFetches);
    if (m.live && m.segments.length > 0) this.setState('live', null);
    else if (!m.live)
      this.setState('offline', `Channel "${this.channel}" is offline. Waiting for the broadcast…`);
    this.changed();
  }

  /**
   * The scheduling step: which segments to fetch, from where. Today the CDN serves all of
   * them; the live-edge segment streams while it is being cut.
   */
  private policy(): { p2p: boolean; latencyTargetMs: number; downloadCapKbps?: number | null } {
    return this.opts.policy?.() ?? { p2p: false, latencyTargetMs: 500 };
  }

  private startSwarm(info: ComChannelInfo): void {
    if (this.closed) return;
    if (this.peers.start(info) && !this.loopTimer) this.loopTimer = setInterval(() => this.schedule(), 100);
  }

  /**
   * The scheduling step: which segments to fetch, from where. Without peers (or in
   * low-latency mode) the CDN serves everything and the live edge streams while it is cut;
   * with peers, the CDN gets only what is due soon and no neighbour can deliver in time.
   */
  private schedule(): void {
    if (this.closed || this.wantFrom === null || this.latest === null || !this.stream_) return;
    const policy = this.policy();
    if (this.peers.active && (policy.p2p || this.opts.role === 'seed')) {
      if (this.opts.role === 'seed') {
        this.scheduleCdn(false);
        this.scheduleLiveEdge();
      } else {
        this.peers.schedule(
          this.wantFrom,
          this.latest,
          policy.latencyTargetMs,
          policy.downloadCapKbps ?? null,
          this.maxParallel,
        );
      }
      return;
    }
    this.scheduleCdn(true);
  }

  private scheduleCdn(liveEdge: boolean): void {
    for (let seq = this.wantFrom!; seq <= this.latest!; seq++) {
      if (this.inFlight.size >= this.maxParallel) break;
      if (this.inFlight.has(seq) || this.lost.has(seq) || !this.entries.has(seq)) continue;
      const c = this.cache.get(seq);
      if (c?.verified) continue;
      if (c?.complete) continue; // awaiting verification
      void this.fetchSegment(seq, false);
    }
    if (liveEdge) this.scheduleLiveEdge();
  }

  private scheduleLiveEdge(): void {
    const edge = Math.max(this.latest!, this.edgeDone ?? -1) + 1;
    if (this.live && !this.liveEdgeFetching && !this.cache.has(edge) && !this.inFlight.has(edge)) {
      void this.fetchSegment(edge, true);
    }
  }

  private async fetchSegment(seq: number, isLiveEdge: boolean): Promise<void> {
    const stream = this.stream_!;
    this.inFlight.add(seq);
    if (isLiveEdge) {
      this.liveEdgeFetching = true;
      this.liveEdge = { seq, originTime: null, startTs: null };
    }
    this.cache.begin(seq, 'cdn', isLiveEdge);
    try {
      const meta = await this.client.segment(
        this.channel,
        stream,
        seq,
        (chunk) => {
          this.bytesCdn += chunk.length;
          this.peers.meter.add(chunk.length, Date.now());
          this.cache.append(seq, chunk);
        },
        this.abort.signal,
      );
      if (isLiveEdge && this.liveEdge?.seq === seq) {
        this.liveEdge = { seq, originTime: meta.originTime, startTs: meta.startTs };
      }
      if (this.stream_ !== stream) return;
      this.inFlight.delete(seq);
      if (isLiveEdge) this.edgeDone = seq;
      this.cache.finish(seq, false);
      if (this.entries.has(seq)) this.verify(seq);
    } catch (err) {
      this.inFlight.delete(seq);
      if (this.closed) return;
      this.cache.drop(seq, 'fetch failed');
      if (isLiveEdge) {
        // Not cut yet, or the stream ended: the next manifest says what comes next.
        this.log.debug('live-edge fetch ended early', { channel: this.channel, seq, error: describe(err) });
        await this.sleep(250);
        return;
      }
      const attempts = (this.attempts.get(seq) ?? 0) + 1;
      this.attempts.set(seq, attempts);
      const outOfWindow = err instanceof OriginError && err.status === 404 && !isLiveEdge;
      if (outOfWindow || attempts >= MAX_FETCH_ATTEMPTS) {
        this.lost.add(seq);
        this.log.warn('segment lost', { channel: this.channel, seq, error: describe(err) });
        this.changed();
      } else if (!isLiveEdge) {
        this.log.debug('segment fetch failed, retrying', {
          channel: this.channel,
          seq,
          error: describe(err),
        });
        await this.sleep(100 * attempts);
      }
    } finally {
      if (isLiveEdge) this.liveEdgeFetching = false;
      this.inFlight.delete(seq);
      this.changed();
      this.schedule();
    }
  }

  private verify(seq: number): void {
    const entry = this.entries.get(seq);
    const c = this.cache.get(seq);
    if (!entry || !c?.complete) return;
    if (c.bytes.length === entry.size && sha256Hex(c.bytes) === entry.sha256) {
      this.cache.finish(seq, true);
      this.peers.announce(seq);
      return;
    }
    this.hashFailures++;
    this.log.warn('segment hash mismatch: discarded, fetching again', {
      channel: this.channel,
      seq,
      size: c.bytes.length,
      expected: entry.size,
    });
    this.cache.drop(seq, 'hash mismatch');
    const attempts = (this.attempts.get(seq) ?? 0) + 1;
    this.attempts.set(seq, attempts);
    if (attempts >= MAX_FETCH_ATTEMPTS) this.lost.add(seq);
    queueMicrotask(() => this.schedule());
  }
}
