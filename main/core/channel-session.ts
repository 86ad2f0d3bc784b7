/**
 * One joined channel, wired along the data path: the manifest follower (COM, signed
 * manifest, init data) feeds the fetch engine's segment table; the engine's sources (CDN,
 * peers) fill the segment cache; the gateway reads the cache. This class only assembles the
 * parts, starts and stops the swarm (the P2P switch), and answers what the gateway, the
 * viewer core and the stats ask; each part owns its own state.
 */
import type { SubRoomHints } from '../../common/com';
import type { SessionState } from '../../common/ipc-contract';
import type { Anchor } from '../../common/latency';
import type { CoreLog } from '../../common/logger';
import type { SegmentEntry } from '../../common/manifest';
import type { PeerRole } from '../../common/tracker-protocol';
import type { SwarmFactory } from '../p2p/swarm';
import type { SegmentCache } from './cache/segment-cache';
import { FetchEngine, type FetchPolicy } from './engine/fetch-engine';
import type { PlanLimits } from './engine/planner';
import type { ChannelInfo } from './manifest/com-client';
import type { KeyPins } from './manifest/key-pins';
import { ManifestFollower } from './manifest/manifest-follower';
import { CdnSource } from './source/cdn-source';
import { PeerSource } from './source/peer-source';

export interface ChannelSessionOptions {
  serverUrl: string;
  channel: string;
  cache: SegmentCache;
  log: CoreLog;
  /** First retry delay after an error; doubles up to 10 s. */
  retryBaseMs?: number;
  hints?: SubRoomHints;
  /** Origin keys pinned per server (trust on first use). */
  pins?: KeyPins;
  swarm?: SwarmFactory;
  /** Fetch policy, read on every pass (settings apply live). */
  policy?: () => FetchPolicy;
  /** Seeds take every segment at once from the CDN and never fetch from peers. */
  role?: PeerRole;
  /** A seed server's bearer token for its seed ticket (SWARMCAST_SEED_SECRET). */
  seedSecret?: string;
  limits?: Partial<PlanLimits>;
}

export interface ChannelSnapshot {
  state: SessionState;
  message: string | null;
}

export class ChannelSession {
  readonly channel: string;
  readonly cache: SegmentCache;
  readonly log: CoreLog;
  readonly engine: FetchEngine;
  private readonly follower: ManifestFollower;
  private comInfo: ChannelInfo | null = null;
  private placedAmong: number | null = null;
  private state: SessionState = 'joining';
  private message: string | null = null;
  private readonly listeners = new Set<() => void>();
  closed = false;

  constructor(private readonly opts: ChannelSessionOptions) {
    this.channel = opts.channel;
    this.cache = opts.cache;
    this.log = opts.log;
    const policy = opts.policy ?? (() => ({ p2p: false, latencyTargetMs: 500, downloadCapKbps: null }));
    this.engine = new FetchEngine({
      channel: opts.channel,
      role: opts.role ?? 'viewer',
      cache: opts.cache,
      log: opts.log,
      policy,
      clockOffsetMs: () => this.follower.clockOffsetMs,
      changed: () => this.changed(),
      limits: opts.limits,
    });
    this.follower = new ManifestFollower(
      {
        serverUrl: opts.serverUrl,
        channel: opts.channel,
        // A seed asks the COM for a seed ticket; everyone else gets a viewer's.
        hints: opts.role === 'seed' ? { ...opts.hints, role: 'seed' } : opts.hints,
        seedSecret: opts.seedSecret,
        pins: opts.pins,
        log: opts.log,
        retryBaseMs: opts.retryBaseMs,
      },
      {
        joined: (info) => {
          this.comInfo = info;
          // Fixed at the first join: the player's latency target follows it, and a target that
          // moved under a playing player would leave the fetch deadlines off its real position.
          this.placedAmong ??= info.com.tracker.viewers ?? null;
          this.engine.setCdn(
            new CdnSource(
              () => this.follower.cdn,
              this.channel,
              () => this.follower.stream,
              this.engine,
            ),
          );
          this.startSwarm();
        },
        manifest: (m, newStream) => {
          if (newStream || this.engine.table.stream === null) this.engine.resetStream(m.stream);
          this.engine.addEntries(m.segments, m.live);
          this.changed();
        },
        state: (state, message) => this.setState(state, message),
      },
    );
  }

  /** Called on every change of state, manifest, verified segment or live edge. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): ChannelSnapshot {
    return { state: this.state, message: this.message };
  }

  get clockOffsetMs(): number {
    return this.follower.clockOffsetMs;
  }

  get latestSeq(): number | null {
    return this.engine.table.latest;
  }

  /** The origin/CDN base URL and when it last answered a manifest reload (Date.now ms). */
  get lastOriginAnswer(): { base: string; at: number } | null {
    return this.follower.lastAnswer;
  }

  get liveEdgeSeq(): number | null {
    return this.engine.liveEdgeSeq;
  }

  entry(seq: number): SegmentEntry | undefined {
    return this.engine.table.entry(seq);
  }

  /** Verified init data by version. */
  /** The newest init version of the stream (null before the manifest). */
  get latestInitVersion(): number | null {
    return this.follower.latestInitVersion;
  }

  init(version: number): Uint8Array | undefined {
    return this.follower.init(version);
  }

  /** Init version of a segment; the live edge is in the newest version. */
  initVersionOf(seq: number): number | null {
    return (
      this.entry(seq)?.initVersion ?? (seq === this.liveEdgeSeq ? this.follower.latestInitVersion : null)
    );
  }

  /** Segments that will never arrive (outside the window, or failing again and again). */
  isLost(seq: number): boolean {
    return this.engine.table.isLost(seq);
  }

  /** A source is fetching the segment now. */
  isFetching(seq: number): boolean {
    return this.engine.table.get(seq)?.fetch != null;
  }

  /** (FLV timestamp, origin wall-clock) pairs of the newest segments, oldest first (not to be changed). */
  anchors(max = 16): readonly Anchor[] {
    return this.engine.table.anchors(this.liveEdgeSeq, max);
  }

  get hashFailures(): number {
    return this.engine.hashFailures;
  }

  get bytesCdn(): number {
    return this.engine.bytesCdn;
  }

  get bytesP2p(): number {
    return this.engine.bytesP2p;
  }

  get bytesSeed(): number {
    return this.engine.bytesSeed;
  }

  // ---- the swarm ----

  /** The sub-room's viewers when the COM first placed us (normalModeTargetS), null until known. */
  get subRoomViewers(): number | null {
    return this.placedAmong;
  }

  get hasSwarm(): boolean {
    return this.engine.peerSource !== null;
  }

  get peerCount(): number {
    return this.engine.peerSource?.node.peerCount ?? 0;
  }

  /** Log servers named in channel info (base URLs), once joined. */
  get logServers(): readonly string[] {
    return this.comInfo?.com.logServers ?? [];
  }

  /** Our peer links by selected local ICE candidate type. */
  connectivity(): { host: number; srflx: number; relay: number } {
    return this.engine.peerSource?.node.connectivity() ?? { host: 0, srflx: 0, relay: 0 };
  }

  get bytesUp(): number {
    return this.engine.peerSource?.node.bytesUp ?? 0;
  }

  get peersBanned(): number {
    return this.engine.peerSource?.node.badPeers ?? 0;
  }

  uploadRate(): { kbps: number; capKbps: number | null } {
    return this.engine.peerSource?.node.uploadRate() ?? { kbps: 0, capKbps: null };
  }

  setUploadCap(kbps: number | null): void {
    this.engine.peerSource?.node.setUploadCap(kbps);
  }

  /** The P2P switch, while playing. */
  setP2pEnabled(on: boolean): void {
    if (!on && this.hasSwarm) {
      this.engine.setPeers(null);
      this.log.info('P2P off: playing from the CDN only', { channel: this.channel });
    } else if (on && !this.hasSwarm) {
      this.startSwarm();
    }
    this.changed();
  }

  private startSwarm(): void {
    const info = this.comInfo;
    if (this.closed || !info || !this.opts.swarm || this.hasSwarm) return;
    const table = this.engine.table;
    const engine = this.engine;
    try {
      const swarm = this.opts.swarm(
        info.com,
        {
          channel: this.channel,
          stream: () => table.stream,
          initVersion: () => this.follower.latestInitVersion ?? 0,
          verifiedBytes: (seq) =>
            table.get(seq)?.status === 'verified' ? (this.cache.get(seq)?.bytes ?? null) : null,
          verifiedSeqs: () => table.verifiedSeqs(),
        },
        {
          have: (peer, seqs) => engine.holders(peer, seqs),
          gone: (peer) => engine.peerGone(peer),
          segment: (seq, bytes, peer, role) =>
            engine.delivered(seq, bytes, { source: role === 'seed' ? 'seed' : 'p2p', peer, role }),
          failed: (seq, peer, why) => engine.failed(seq, 'peer', why, false, peer),
        },
      );
      if (swarm) engine.setPeers(new PeerSource(swarm));
    } catch (err) {
      this.log.warn('swarm could not start; playing from the CDN', {
        channel: this.channel,
        error: String(err),
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'closed';
    this.follower.close();
    this.engine.close();
    this.listeners.clear();
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
}
