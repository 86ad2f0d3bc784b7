/**
 * A channel session's side of the swarm: starts and stops the peer node (the P2P switch),
 * hands it verified segments to share, takes segments it downloads (stored only after their
 * hash matches the signed manifest), and runs the peer half of the scheduling step: which
 * missing segments to ask neighbours for, and which slow transfers to move to the CDN.
 */
import type { ComChannelInfo } from '../../common/com';
import type { SegmentEntry } from '../../common/manifest';
import { RateMeter } from '../p2p/pacer';
import { planFetches, type SchedulePolicy, type SegmentView } from '../p2p/scheduler';
import { sha256Hex } from './origin-client';
import type { SegmentCache, SourceKind } from './segment-cache';
import type { CoreLog } from './viewer-core-api';

/** The peer node, as the scheduling step uses it. */
export interface Swarm {
  holders(seq: number): number;
  progress(seq: number): { received: number; bytesPerMs: number } | undefined;
  /** Starts a peer transfer; false when no neighbour can be asked now. */
  fetch(seq: number, deadline: number, done: (ok: boolean) => void): boolean;
  cancel(seq: number): void;
  announce(seq: number): void;
  /** A peer's segment failed verification after all: drop that peer for good. */
  banPeer(peerId: string, why: string): void;
  readonly peerCount: number;
  readonly bytesUp: number;
  readonly peersBanned: number;
  /** Upload rate now and the cap in force (null = automatic), kbit/s. */
  uploadRate(): { kbps: number; capKbps: number | null };
  setUploadCap(kbps: number | null): void;
  close(): void;
}

/** Builds the swarm once channel info (tracker, ICE servers) is known; null = CDN only. */
export type SwarmFactory = (info: ComChannelInfo, exchange: PeerExchange) => Swarm | null;

/** What the exchange needs from its channel session. */
export interface ExchangeHost {
  readonly channel: string;
  readonly cache: SegmentCache;
  readonly log: CoreLog;
  readonly latestSeq: number | null;
  readonly clockOffsetMs: number;
  stream(): string | null;
  initVersion(): number;
  entry(seq: number): SegmentEntry | undefined;
  entrySeqs(): Iterable<number>;
  cdnInFlight(seq: number): boolean;
  isLost(seq: number): boolean;
  fetchFromCdn(seq: number): void;
  /** Counts verified bytes by source, and hash failures. */
  received(source: 'p2p' | 'seed', bytes: number): void;
  hashFailed(): void;
  changed(): void;
  schedule(): void;
}

/** The player needs a segment this long (ms) before its playhead reaches it. */
const PLAYER_MARGIN_MS = 300;
/** Ask the CDN when a segment is this close to its deadline (ms) and still missing. */
const CDN_MARGIN_MS = 800;

export class PeerExchange {
  private swarm: Swarm | null = null;
  private comInfo: ComChannelInfo | null = null;
  private readonly p2pInFlight = new Set<number>();
  /** Peer segments that arrived before their manifest entry: verified when it comes. */
  private readonly pending = new Map<number, { bytes: Uint8Array; source: SourceKind; peerId: string }>();
  /** Everything received (CDN and peers), for the download cap. */
  readonly meter = new RateMeter(2000);

  constructor(
    private readonly host: ExchangeHost,
    private readonly factory: SwarmFactory | undefined,
  ) {}

  get channel(): string {
    return this.host.channel;
  }

  get latestSeq(): number | null {
    return this.host.latestSeq;
  }

  get active(): boolean {
    return this.swarm !== null;
  }

  get peerCount(): number {
    return this.swarm?.peerCount ?? 0;
  }

  get bytesUp(): number {
    return this.swarm?.bytesUp ?? 0;
  }

  get peersBanned(): number {
    return this.swarm?.peersBanned ?? 0;
  }

  get uploadRate(): { kbps: number; capKbps: number | null } {
    return this.swarm?.uploadRate() ?? { kbps: 0, capKbps: null };
  }

  setUploadCap(kbps: number | null): void {
    this.swarm?.setUploadCap(kbps);
  }

  /** Starts the swarm from channel info (once); false when there is none. */
  start(info: ComChannelInfo): boolean {
    this.comInfo = info;
    if (!this.factory || this.swarm) return this.swarm !== null;
    try {
      this.swarm = this.factory(info, this);
    } catch (err) {
      this.host.log.warn('swarm could not start; playing from the CDN', {
        channel: this.channel,
        error: String(err),
      });
    }
    return this.swarm !== null;
  }

  /** The P2P switch, while playing. */
  setEnabled(on: boolean): void {
    if (!on && this.swarm) {
      this.stop();
      this.host.log.info('P2P off: playing from the CDN only', { channel: this.channel });
    } else if (on && !this.swarm && this.comInfo) {
      this.start(this.comInfo);
    }
    this.host.changed();
  }

  stop(): void {
    this.swarm?.close();
    this.swarm = null;
    this.p2pInFlight.clear();
  }

  /** Wakes the scheduling loop (a neighbour announced a segment, a transfer ended). */
  wake(): void {
    this.host.schedule();
  }

  /** A segment became verified here (from any source): tell the neighbours. */
  announce(seq: number): void {
    this.swarm?.announce(seq);
  }

  // ---- what the peer node reads and hands over (its SegmentStore) ----

  stream(): string | null {
    return this.host.stream();
  }

  initVersion(): number {
    return this.host.initVersion();
  }

  verifiedBytes(seq: number): Uint8Array | null {
    const c = this.host.cache.get(seq);
    return c?.verified ? c.bytes : null;
  }

  verifiedSeqs(): number[] {
    const out: number[] = [];
    for (const seq of this.host.entrySeqs()) if (this.host.cache.get(seq)?.verified) out.push(seq);
    return out.sort((a, b) => a - b);
  }

  /** A segment downloaded from a neighbour: stored only if its hash matches the signed entry. */
  acceptFromPeer(
    seq: number,
    bytes: Uint8Array,
    source: 'p2p' | 'seed',
    peerId: string,
  ): 'ok' | 'bad' | 'pending' {
    const entry = this.host.entry(seq);
    if (!entry) {
      const latest = this.host.latestSeq;
      if (latest !== null && seq > latest + 3) return 'bad'; // not a segment of this stream's window
      if (this.pending.size < 8) this.pending.set(seq, { bytes, source, peerId });
      return 'pending';
    }
    if (bytes.length !== entry.size || sha256Hex(bytes) !== entry.sha256) {
      this.host.hashFailed();
      this.host.log.warn('segment from a peer failed its hash check', {
        channel: this.channel,
        seq,
        peer: peerId,
      });
      return 'bad';
    }
    if (!this.host.cache.get(seq)?.verified) {
      this.meter.add(bytes.length, Date.now());
      this.host.received(source, bytes.length);
      this.host.cache.put(seq, bytes, source);
      this.swarm?.announce(seq);
    }
    this.host.changed();
    return 'ok';
  }

  /** A manifest entry arrived: check a peer segment that came before it. */
  entryArrived(seq: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (this.acceptFromPeer(seq, p.bytes, p.source as 'p2p' | 'seed', p.peerId) === 'bad') {
      this.swarm?.banPeer(p.peerId, `segment ${seq} failed its hash check`);
    }
  }

  /**
   * The peer half of the scheduling step over seqs [from, to]: due soon and missing → CDN;
   * held by a neighbour → ask it; a transfer that will miss its deadline → move to the CDN.
   */
  schedule(
    from: number,
    to: number,
    latencyTargetMs: number,
    downloadCapKbps: number | null,
    maxCdnParallel: number,
  ): void {
    const swarm = this.swarm;
    if (!swarm) return;
    const host = this.host;
    const now = Date.now();
    // Over the download cap: fetch nothing ahead from peers; what is due still comes from the CDN.
    const overCap =
      downloadCapKbps !== null && (this.meter.bytesPerSecond(now) * 8) / 1000 >= downloadCapKbps;
    const views: SegmentView[] = [];
    for (let seq = from; seq <= to; seq++) {
      const e = host.entry(seq);
      if (!e || host.isLost(seq)) continue;
      const c = host.cache.get(seq);
      const cdn = host.cdnInFlight(seq);
      views.push({
        seq,
        deadline: e.originTime - host.clockOffsetMs + latencyTargetMs - PLAYER_MARGIN_MS,
        size: e.size,
        state:
          c?.verified || (c?.complete && !cdn)
            ? 'have'
            : cdn
              ? 'cdn'
              : this.p2pInFlight.has(seq)
                ? 'p2p'
                : 'missing',
        holders: swarm.holders(seq),
        progress: swarm.progress(seq),
      });
    }
    const policy: SchedulePolicy = {
      p2p: true,
      cdnMarginMs: CDN_MARGIN_MS,
      maxCdnParallel,
      maxP2pParallel: 4,
    };
    for (const d of planFetches(now, views, policy)) {
      if (d.action === 'cdn') {
        host.fetchFromCdn(d.seq);
      } else if (d.action === 'move-to-cdn') {
        swarm.cancel(d.seq);
        this.p2pInFlight.delete(d.seq);
        host.log.debug('peer transfer too slow for its deadline; moved to the CDN', { seq: d.seq });
        host.fetchFromCdn(d.seq);
      } else if (!overCap) {
        const view = views.find((v) => v.seq === d.seq)!;
        const started = swarm.fetch(d.seq, view.deadline, () => {
          this.p2pInFlight.delete(d.seq);
          queueMicrotask(() => host.schedule());
        });
        if (started) this.p2pInFlight.add(d.seq);
      }
    }
  }
}
