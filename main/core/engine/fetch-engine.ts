/**
 * The fetch engine of one channel: the single scheduling loop. Every event (a manifest, a
 * chunk, a verification, a neighbour's announcement, a transfer's end) marks the engine
 * dirty; one pass runs per turn of the event loop, plus one periodic timer for deadlines
 * that come closer without any event. A pass snapshots the segment table, asks the pure
 * planner what to do, and commits the actions to the sources. It also checks every
 * segment against the signed manifest before it counts: CDN bytes when they are complete,
 * peer bytes before they are stored.
 */
import { BEAT_MS, everyBeat } from '../../../common/heartbeat';
import type { CoreLog } from '../../../common/logger';
import type { SegmentEntry } from '../../../common/manifest';
import { sha256Hex } from '../../../common/sha256';
import type { PeerRole } from '../../../common/tracker-protocol';
import { RateMeter } from '../../p2p/rate';
import type { SegmentCache } from '../cache/segment-cache';
import type { CdnSource } from '../source/cdn-source';
import type { PeerSource } from '../source/peer-source';
import type { EdgeTiming, Provenance, SourceEvents } from '../source/segment-source';
import {
  type CdnWhy,
  DEFAULT_LIMITS,
  FIND_NEIGHBOURS_GRACE_MS,
  firstCopyRank,
  limitsForCdnTime,
  nextDueAt,
  type PlanLimits,
  type PlanSegment,
  plan,
  smoothCdnFetchMs,
  startSeq,
  waitsForPeers,
} from './planner';
import { RefusalLedger } from './refusals';
import { AHEAD_LIMIT, type SegmentRecord, SegmentTable, type SourceName } from './segment-table';

export interface FetchPolicy {
  /** Peers are used for fetching (P2P on and normal latency mode). */
  p2p: boolean;
  /** How far behind live the player sits (ms): sets each segment's deadline. */
  latencyTargetMs: number;
  downloadCapKbps: number | null;
}

export interface FetchEngineOptions {
  channel: string;
  role: PeerRole;
  cache: SegmentCache;
  log: CoreLog;
  policy: () => FetchPolicy;
  /** Origin clock minus local clock (ms). */
  clockOffsetMs: () => number;
  /** Something readers care about changed (a segment verified or lost, the live edge moved). */
  changed: () => void;
  now?: () => number;
  limits?: Partial<PlanLimits>;
  /** The periodic pass (ms; default one heartbeat, BEAT_MS). */
  tickMs?: number;
}

/** The player needs a segment this long (ms) before its playhead reaches it. */
export const PLAYER_MARGIN_MS = 300;
const MAX_CDN_ATTEMPTS = 4;
/** Live-edge fetches that end early (the segment is not cut yet) wait this long (ms). */
const LIVE_EDGE_RETRY_MS = 250;
/** Shortest time between two passes (ms): deadlines are planned with far larger margins. */
const MIN_PASS_GAP_MS = 20;
/** The periodic pass runs at least this often (ms), whatever nextDueAt said. */
const MAX_PASS_GAP_MS = 1000;

export class FetchEngine implements SourceEvents {
  readonly table = new SegmentTable();
  private readonly now: () => number;
  /** When the current peer source (swarm) was set. */
  private peersSince = 0;
  /** The segment the player starts from is here: until then it is due at once, whatever its deadline. */
  private haveStart = false;
  private readonly limits: PlanLimits;
  private readonly stopTick: () => void;
  private cdn: CdnSource | null = null;
  private peers: PeerSource | null = null;
  private dirty = false;
  private lastPassAt = Number.NEGATIVE_INFINITY;
  /** When the last pass's plan could next change without an event (planner nextDueAt). */
  private dueAt = Number.NEGATIVE_INFINITY;
  /** A pass at `dueAt` when that comes sooner than the next periodic pass would. */
  private dueTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly tickMs: number;
  private closed = false;
  /** Everything received (CDN and peers), for the download cap. */
  readonly meter = new RateMeter(2000);
  bytesCdn = 0;
  bytesP2p = 0;
  bytesSeed = 0;
  hashFailures = 0;
  /** Smoothed time a whole-segment CDN fetch takes here (ms). */
  private cdnFetchMs = 0;
  private readonly refusals = new RefusalLedger();

  constructor(private readonly opts: FetchEngineOptions) {
    this.now = opts.now ?? Date.now;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.tickMs = opts.tickMs ?? BEAT_MS;
    this.stopTick = everyBeat(this.tickMs, () => this.tick());
  }

  setCdn(cdn: CdnSource): void {
    this.cdn = cdn;
    this.markDirty();
  }

  /** The swarm joined (or left: null). */
  setPeers(peers: PeerSource | null): void {
    if (peers !== this.peers) this.peersSince = this.now();
    if (this.peers && this.peers !== peers) {
      for (const r of this.table.all()) {
        r.holders.clear();
        if (r.fetch?.source === 'peer') this.release(r);
      }
      this.peers.close();
    }
    this.peers = peers;
    this.markDirty();
  }

  get peerSource(): PeerSource | null {
    return this.peers;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTick();
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.cdn?.close();
    this.setPeers(null);
  }

  /**
   * The periodic pass, for deadlines that come closer without any event: skipped while the last
   * plan said nothing falls due before `dueAt` (most beats of a viewer whose segments come from
   * peers well ahead of their deadlines), but never for longer than MAX_PASS_GAP_MS.
   */
  private tick(): void {
    if (this.now() < this.dueAt && performance.now() - this.lastPassAt < MAX_PASS_GAP_MS) return;
    this.markDirty();
  }

  /**
   * Something falls due between now and the next periodic pass (a small room's first-copy duty
   * and its backups are 400–500 ms apart, a beat is 250 ms): a pass then, not up to a beat late.
   */
  private wakeAtDue(now: number): void {
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    const wait = this.dueAt - now;
    if (wait <= 0 || wait >= this.tickMs) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      this.markDirty();
    }, wait);
  }

  /**
   * Asks for a pass. Events are coalesced: one pass runs at most every MIN_PASS_GAP_MS, so a
   * burst of announcements from eight neighbours costs one pass, not eight.
   */
  markDirty(): void {
    if (this.dirty || this.closed) return;
    this.dirty = true;
    const wait = this.lastPassAt + MIN_PASS_GAP_MS - performance.now();
    const run = () => {
      this.dirty = false;
      if (this.closed) return;
      this.lastPassAt = performance.now();
      this.pass();
    };
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait);
  }

  // ---- the manifest ----

  /** A new stream on the channel: forget the old one's segments. */
  resetStream(stream: string): void {
    for (const r of this.table.all()) {
      if (r.fetch) this.sourceOf(r.fetch.source)?.cancel(r.seq, false);
      this.opts.cache.drop(r.seq, 'stream changed');
    }
    this.table.reset(stream);
    this.haveStart = false;
  }

  /** The manifest's entries: record them, check what arrived before them, pick the start. */
  addEntries(entries: readonly SegmentEntry[], live: boolean): void {
    const now = this.now();
    this.table.live = live;
    for (const r of this.table.addEntries(entries, now)) {
      if (r.status === 'complete') this.verifyStreamed(r);
      else if (r.early) this.checkEarly(r);
    }
    if (this.table.wantFrom === null && entries.length > 0)
      this.table.wantFrom = startSeq(
        entries,
        this.opts.role === 'seed' ? 0 : this.opts.policy().latencyTargetMs,
      );
    if (entries.length > 0) this.opts.cache.setHorizon(entries[0]!.seq);
    this.markDirty();
  }

  /** The segment streaming from the live edge now (its entry may not exist yet). */
  get liveEdgeSeq(): number | null {
    const edge = this.table.nextEdgeSeq();
    const r = this.table.get(edge) ?? this.table.get(edge - 1);
    return r && !r.entry && (r.fetch?.liveEdge || r.status === 'complete') ? r.seq : null;
  }

  // ---- the pass ----

  private pass(): void {
    const t = this.table;
    this.dueAt = Number.NEGATIVE_INFINITY;
    if (t.wantFrom === null || t.latest === null || !t.stream || !this.cdn) return;
    const now = this.now();
    const policy = this.opts.policy();
    const seed = this.opts.role === 'seed';
    // Peers are waited for once some are connected, or while a new swarm finds its first;
    // a viewer alone takes what it needs from the CDN straight away.
    const usePeers = waitsForPeers({
      seed,
      p2p: policy.p2p,
      swarmAgeMs: this.peers ? now - this.peersSince : null,
      peerCount: this.peers?.node.peerCount ?? 0,
    });
    const members = usePeers ? this.peers!.firstCopyMembers() : [];
    const me = this.peers?.node.peerId ?? null;
    const segments: PlanSegment[] = [];
    const records = t.range(t.wantFrom, t.latest);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (!r.entry || r.status === 'verified' || r.status === 'lost' || r.status === 'complete') continue;
      const transfer = r.fetch?.source === 'peer' ? this.peers?.progress(r.seq) : undefined;
      segments.push({
        seq: r.seq,
        // The first frame waits for the start segment: never for peers, even on a new channel
        // whose history is shorter than the latency target (its deadline lies ahead then).
        deadline: !this.haveStart && r.seq === t.wantFrom ? now : this.deadlineOf(r.entry, policy),
        size: r.entry.size,
        status: r.status,
        source: r.fetch?.source ?? null,
        holders: r.holders.size,
        firstCopyRank: firstCopyRank(r.seq, members, me),
        listedAt: r.listedAt ?? now,
        retryAt: r.retryAt,
        transfer,
      });
    }
    const overCap =
      policy.downloadCapKbps !== null &&
      (this.meter.bytesPerSecond(now) * 8) / 1000 >= policy.downloadCapKbps;
    const input = {
      now,
      usePeers,
      overDownloadCap: overCap,
      segments,
      firstCopyRoom: members.length,
      liveEdge: usePeers ? null : this.table.liveEdgeWanted(now),
      limits: limitsForCdnTime(this.limits, this.cdnFetchMs),
    };
    const actions = plan(input);
    this.dueAt = nextDueAt(input, actions);
    // A swarm still finding its first neighbour stops waiting for peers when its grace ends.
    if (this.peers && this.peers.node.peerCount === 0 && !seed)
      this.dueAt = Math.min(this.dueAt, this.peersSince + FIND_NEIGHBOURS_GRACE_MS);
    this.wakeAtDue(now);
    for (const a of actions) {
      switch (a.type) {
        case 'cdn':
          this.startCdn(t.get(a.seq)!, false, a.why);
          break;
        case 'live-edge': {
          const r = t.ensure(a.seq);
          if (r) this.startCdn(r, true, 'no-peers');
          break;
        }
        case 'peer':
          this.startPeer(t.get(a.seq)!);
          break;
        case 'cancel-peer': {
          const r = t.get(a.seq)!;
          this.opts.log.debug('peer transfer given up', {
            channel: this.opts.channel,
            seq: a.seq,
            why: a.why,
            peer: r.fetch?.peer,
          });
          this.peers?.cancel(a.seq, true);
          this.release(r);
          if (a.next === 'cdn') this.startCdn(r, false, 'deadline');
          else if (a.next === 'peer') this.startPeer(r);
          break;
        }
        default: {
          const never: never = a;
          throw new Error(`unknown plan action ${String(never)}`);
        }
      }
    }
  }

  private sourceOf(name: SourceName) {
    return name === 'cdn' ? this.cdn : this.peers;
  }

  private startCdn(r: SegmentRecord, liveEdge: boolean, why: CdnWhy): void {
    if (!this.cdn || r.fetch) return;
    // Why each CDN copy was taken: what a room's CDN share is made of, read from debug logs.
    this.opts.log.debug('CDN fetch', { channel: this.opts.channel, seq: r.seq, why, liveEdge });
    this.opts.cache.begin(r.seq, 'cdn', liveEdge, r.entry?.size);
    r.fetch = { source: 'cdn', peer: null, startedAt: this.now(), liveEdge };
    r.status = 'fetching';
    const started = this.cdn.start({
      seq: r.seq,
      deadline: 0,
      size: r.entry?.size ?? null,
      liveEdge,
      holders: r.holders,
    });
    if (!started) this.release(r);
    // The live edge moved: a reader at its end may go on into the new segment.
    else if (liveEdge) this.opts.changed();
  }

  /** When the player needs a segment's first byte (local clock): its origin time, plus the
   * latency the player keeps, minus the player's own margin. */
  private deadlineOf(entry: SegmentEntry, policy: FetchPolicy): number {
    return entry.originTime - this.opts.clockOffsetMs() + policy.latencyTargetMs - PLAYER_MARGIN_MS;
  }

  private startPeer(r: SegmentRecord): void {
    if (!this.peers || r.fetch || !r.entry) return;
    const started = this.peers.start({
      seq: r.seq,
      deadline: this.deadlineOf(r.entry, this.opts.policy()),
      size: r.entry.size,
      liveEdge: false,
      holders: r.holders,
    });
    if (!started) return;
    r.fetch = { source: 'peer', peer: started.peer, startedAt: this.now(), liveEdge: false };
    r.status = 'fetching';
  }

  /** The record has no fetch in flight any more (it stays as it is otherwise). */
  private release(r: SegmentRecord): void {
    r.fetch = null;
    if (r.status === 'fetching') r.status = 'missing';
  }

  // ---- what the sources report ----

  chunk(seq: number, bytes: Uint8Array): void {
    this.bytesCdn += bytes.length;
    this.meter.add(bytes.length, this.now());
    this.opts.cache.append(seq, bytes);
  }

  streamed(seq: number, timing: EdgeTiming): void {
    const r = this.table.get(seq);
    if (r?.fetch?.source !== 'cdn') return;
    if (r.fetch.liveEdge) {
      this.table.edgeDone = Math.max(this.table.edgeDone ?? -1, seq);
      r.edgeOriginTime = timing.originTime;
      r.edgeStartTs = timing.startTs;
    }
    if (!r.fetch.liveEdge)
      this.cdnFetchMs = smoothCdnFetchMs(this.cdnFetchMs, this.now() - r.fetch.startedAt);
    r.fetch = null;
    r.status = 'complete';
    this.opts.cache.finish(seq, false);
    if (r.entry) this.verifyStreamed(r);
    this.opts.changed();
    this.markDirty();
  }

  delivered(
    seq: number,
    bytes: Uint8Array,
    from: Provenance & { source: 'p2p' | 'seed' },
  ): 'ok' | 'bad' | 'pending' {
    const r = this.table.get(seq) ?? this.table.ensure(seq);
    if (!r) return 'bad'; // not a segment of this stream's window
    if (r.fetch?.source === 'peer' && r.fetch.peer === from.peer) this.release(r);
    this.markDirty();
    if (!r.entry) {
      if (seq > (this.table.latest ?? Number.POSITIVE_INFINITY) + AHEAD_LIMIT) return 'bad';
      r.early ??= { bytes, peer: from.peer, role: from.role };
      return 'pending';
    }
    if (bytes.length !== r.entry.size || sha256Hex(bytes) !== r.entry.sha256) {
      this.hashFailures++;
      this.opts.log.warn('segment from a peer failed its hash check', {
        channel: this.opts.channel,
        seq,
        peer: from.peer,
      });
      r.holders.delete(from.peer);
      return 'bad';
    }
    if (r.status !== 'verified') {
      if (r.fetch) {
        this.sourceOf(r.fetch.source)?.cancel(seq, false);
        r.fetch = null;
      }
      this.meter.add(bytes.length, this.now());
      if (from.source === 'seed') this.bytesSeed += bytes.length;
      else this.bytesP2p += bytes.length;
      this.opts.cache.put(seq, bytes, from.source);
      this.markVerified(r);
    }
    return 'ok';
  }

  failed(seq: number, source: SourceName, why: string, final: boolean, peer?: string): void {
    const r = this.table.get(seq);
    if (!r || r.fetch?.source !== source || (peer !== undefined && r.fetch.peer !== peer)) return;
    const liveEdge = r.fetch.liveEdge;
    this.release(r);
    this.markDirty();
    if (source === 'peer') {
      if (peer !== undefined && why === 'not-have' && r.holders.delete(peer)) this.strike(peer, seq);
      return;
    }
    this.opts.cache.drop(seq, 'fetch failed');
    if (liveEdge) {
      // Not cut yet, or the stream ended: the next manifest says what comes next.
      r.retryAt = this.now() + LIVE_EDGE_RETRY_MS;
      return;
    }
    r.attempts++;
    if (final || r.attempts >= MAX_CDN_ATTEMPTS) {
      r.status = 'lost';
      this.opts.log.warn('segment lost', { channel: this.opts.channel, seq, error: why });
      this.opts.changed();
    } else {
      r.retryAt = this.now() + 100 * r.attempts;
      this.opts.log.debug('segment fetch failed, retrying', { channel: this.opts.channel, seq, error: why });
    }
  }

  /** A neighbour refused a segment it had announced: a strike, or a ban (refusals.ts). */
  private strike(peer: string, seq: number): void {
    const ban = this.refusals.refused(peer, seq);
    if (ban) this.peers?.ban(peer, ban);
  }

  holders(peer: string, seqs: readonly number[]): void {
    this.refusals.announced(peer, seqs);
    if (this.table.addHolder(peer, seqs)) this.markDirty();
  }

  peerGone(peer: string): void {
    this.refusals.forget(peer);
    this.table.dropHolder(peer);
    this.markDirty();
  }

  // ---- verification ----

  private markVerified(r: SegmentRecord): void {
    r.status = 'verified';
    r.early = null;
    if (r.seq === this.table.wantFrom) this.haveStart = true;
    this.peers?.announce(r.seq, r.holders);
    this.opts.changed();
  }

  /** A CDN segment is complete and its entry is here: check it. */
  private verifyStreamed(r: SegmentRecord): void {
    const entry = r.entry;
    const c = this.opts.cache.get(r.seq);
    if (!entry || !c?.complete) return;
    if (c.bytes.length === entry.size && sha256Hex(c.bytes) === entry.sha256) {
      this.opts.cache.finish(r.seq, true);
      this.markVerified(r);
      return;
    }
    this.hashFailures++;
    this.opts.log.warn('segment hash mismatch: discarded, fetching again', {
      channel: this.opts.channel,
      seq: r.seq,
      size: c.bytes.length,
      expected: entry.size,
    });
    this.opts.cache.drop(r.seq, 'hash mismatch');
    r.status = 'missing';
    r.attempts++;
    if (r.attempts >= MAX_CDN_ATTEMPTS) {
      r.status = 'lost';
      this.opts.changed();
    }
    this.markDirty();
  }

  /** Peer bytes that came before their entry: check them now. */
  private checkEarly(r: SegmentRecord): void {
    const early = r.early!;
    r.early = null;
    const from = {
      source: early.role === 'seed' ? 'seed' : 'p2p',
      peer: early.peer,
      role: early.role,
    } as const;
    if (this.delivered(r.seq, early.bytes, from) === 'bad')
      this.peers?.ban(early.peer, `segment ${r.seq} failed its hash check`);
  }
}
