/**
 * The peer node of one joined channel: finds neighbours through the tracker, keeps a bounded
 * set of links, speaks the wire protocol on them, runs the transfers the engine starts
 * (reassembling a segment from its chunks) and serves verified segments to neighbours that
 * ask (through the uploader). It decides nothing about which segment comes from where: it
 * reports what neighbours announce, what arrives and what fails, and the engine's planner
 * decides. Bytes from a peer are handed over whole and used only after the engine has checked
 * them against the signed manifest; a peer that breaks the protocol or sends bad data is
 * dropped and never taken back.
 */
import { everyBeat } from '../../common/heartbeat';
import type { CoreLog } from '../../common/logger';
import { TokenBucket } from '../../common/token-bucket';
import type { PeerRole } from '../../common/tracker-protocol';
import { loopLagMs, watchLoopLag } from './loop-lag';
import {
  chooseNeighbour,
  defaultMaxNeighbours,
  FAILING_BACKOFF_MS,
  failingNeighbours,
  MAX_INFLIGHT_PER_PEER,
  type NeighbourView,
  nextLookupDelayMs,
  type Refusal,
  refusalBackoffMs,
  UNREACHABLE_BACKOFF_MAX_MS,
  unreachableBackoffMs,
  worstNeighbour,
} from './neighbour-policy';
import { type IceServerConfig, type LinkEvents, PeerLink, type SignalData, toIceServers } from './peer-link';
import { kbpsToBytesPerMs } from './rate';
import { Uploader } from './uploader';
import { GoodbyeReason, MAX_HAVE_COUNT, MsgType, RejectReason, type WireMessage } from './wire';

/** What the node needs from the tracker client. */
export interface SignalTransport {
  neighbours(want: number, exclude: string[]): Promise<Array<{ peerId: string; role: PeerRole }>>;
  signal(to: string, data: SignalData): void;
  onSignal(listener: (from: string, data: SignalData) => void): void;
}

/** What the node reads from the channel: the stream it is on and the verified segments it may share. */
export interface SegmentStore {
  readonly channel: string;
  stream(): string | null;
  initVersion(): number;
  /** Verified segment bytes we may share. */
  verifiedBytes(seq: number): Uint8Array | null;
  verifiedSeqs(): number[];
}

/** Why a transfer ended without its segment. */
export type TransferFailure = 'not-have' | 'busy' | 'cancelled' | 'gone';

/** What the node tells the engine. */
export interface PeerNodeEvents {
  /** A neighbour announced segments it holds. */
  have(peer: string, seqs: readonly number[]): void;
  /** A neighbour is gone: its announcements no longer count. */
  gone(peer: string): void;
  /** A requested segment arrived whole: 'bad' (hash mismatch) gets its sender banned. */
  segment(seq: number, bytes: Uint8Array, peer: string, role: PeerRole): 'ok' | 'bad' | 'pending';
  /** A transfer ended without its segment. */
  failed(seq: number, peer: string, why: TransferFailure): void;
}

/** A peer transfer in flight, as the planner sees it. */
export interface Transfer {
  seq: number;
  peer: string;
  startedAt: number;
  lastDataAt: number;
  received: number;
  total: number;
}

export interface PeerNodeOptions {
  peerId: string;
  role: PeerRole;
  iceServers: IceServerConfig[];
  maxNeighbours?: number;
  /** A seed hands each segment to at most this many viewers. */
  seedCopiesPerSegment?: number;
  now?: () => number;
  /** Upload cap for all links (kbit/s), null = automatic (the rate control finds the spare capacity). */
  uploadCapKbps?: number | null;
  /** Delay-based rate control and pacing (off only for comparison benchmarks). */
  rateControl?: boolean;
  /** How long a new link may stay silent before its Hello (ms). */
  helloTimeoutMs?: number;
  log: CoreLog;
}

interface Neighbour extends NeighbourView {
  link: PeerLink;
  hello: boolean;
  /** Announcements (Have, HaveMap) this neighbour may still send: a flood is abuse. */
  announceBudget: TokenBucket;
  connectedAt: number;
  /** Bytes this neighbour gave us, and we gave it (anti-leech). */
  bytesFrom: number;
  bytesTo: number;
  /** "Over cap" refusals from this seed in a row (any other answer, a delivery or another refusal, starts over). */
  overCapStreak: number;
}

interface Download extends Transfer {
  reqId: number;
  expectedSize: number;
  /** The whole segment, filled chunk by chunk (allocated once the first chunk proves its size). */
  bytes: Uint8Array | null;
}

/** A viewer that has taken this much from us and given nothing back for this long is served last. */
const LEECH_BYTES = 2 * 1024 * 1024;
const LEECH_GRACE_MS = 20_000;
/** Newest verified segments announced to a new neighbour. */
const HAVE_WINDOW = 64;
/** Announcements per neighbour: one Have a segment a second is normal; far more is a flood. */
const ANNOUNCE_RATE_PER_S = 50;
const ANNOUNCE_BURST = 200;

export class PeerNode {
  private readonly neighbours = new Map<string, Neighbour>();
  /** connected(), kept until the neighbours change (cleared wherever they do). */
  private connectedMemo: ReadonlyArray<{ id: string; role: PeerRole }> | null = null;
  private readonly blacklist = new Set<string>();
  /** Neighbours we could not connect to: not dialled (nor answered) again until `until`. */
  private readonly unreachable = new Map<string, { until: number; backoffMs: number }>();
  private readonly downloads = new Map<number, Download>();
  private readonly iceServers;
  private readonly maxNeighbours: number;
  private readonly now: () => number;
  private readonly uploader: Uploader;
  private readonly stopMaintenance: () => void;
  private nextReqId = 1;
  private closed = false;
  private finding = false;
  /** Tracker lookups back off while they bring nobody new (nextLookupDelayMs). */
  private lookupDelayMs = 0;
  private nextLookupAt = 0;
  private readonly unwatchLag = watchLoopLag();
  badPeers = 0;

  constructor(
    private readonly store: SegmentStore,
    private readonly tracker: SignalTransport,
    private readonly events: PeerNodeEvents,
    private readonly opts: PeerNodeOptions,
  ) {
    this.iceServers = toIceServers(opts.iceServers);
    this.maxNeighbours = opts.maxNeighbours ?? defaultMaxNeighbours(opts.role);
    this.now = opts.now ?? Date.now;
    this.uploader = new Uploader({
      role: opts.role,
      copiesPerSegment: opts.seedCopiesPerSegment ?? 1,
      bytesOf: (seq) => store.verifiedBytes(seq),
      now: this.now,
      capBytesPerMs: kbpsToBytesPerMs(opts.uploadCapKbps ?? null),
      rateControl: opts.rateControl,
      isLeech: (link) => this.isLeech(link),
      onAbuse: (link, why) => this.ban(link.remoteId, why, GoodbyeReason.ProtocolError),
      onSent: (link, n) => {
        const nb = this.neighbours.get(link.remoteId);
        if (nb) nb.bytesTo += n;
      },
    });
    tracker.onSignal((from, data) => this.onSignal(from, data));
    this.stopMaintenance = everyBeat(500, () => this.maintain());
    void this.findNeighbours();
  }

  get peerId(): string {
    return this.opts.peerId;
  }

  get log(): CoreLog {
    return this.opts.log;
  }

  /** How our open links got through NATs: their selected local candidate types, counted. */
  connectivity(): { host: number; srflx: number; relay: number } {
    const out = { host: 0, srflx: 0, relay: 0 };
    for (const nb of this.neighbours.values()) {
      const t = nb.hello ? nb.link.localCandidateType() : null;
      if (t === 'host') out.host++;
      else if (t === 'srflx' || t === 'prflx') out.srflx++;
      else if (t === 'relay') out.relay++;
    }
    return out;
  }

  get peerCount(): number {
    return this.connected().length;
  }

  /**
   * Connected neighbours (after their Hello) and their roles; the same array until a neighbour
   * comes or goes (the engine asks at each pass), not to be changed.
   */
  connected(): ReadonlyArray<{ id: string; role: PeerRole }> {
    if (this.connectedMemo) return this.connectedMemo;
    const out: Array<{ id: string; role: PeerRole }> = [];
    this.neighbours.forEach((nb) => {
      if (nb.hello) out.push({ id: nb.id, role: nb.role });
    });
    this.connectedMemo = out;
    return out;
  }

  get bytesUp(): number {
    return this.uploader.bytesSent;
  }

  /** Current upload rate (kbit/s) and the cap in force (null = automatic). */
  uploadRate(): { kbps: number; capKbps: number | null } {
    const cap = this.uploader.capBytesPerMs;
    return {
      kbps: Math.round((this.uploader.rateBytesPerSecond() * 8) / 1000),
      capKbps: cap === null ? null : Math.round(cap * 8),
    };
  }

  /** Applies a new upload cap live. */
  setUploadCap(kbps: number | null): void {
    this.uploader.setCap(kbpsToBytesPerMs(kbps));
  }

  private isLeech(link: PeerLink): boolean {
    const nb = this.neighbours.get(link.remoteId);
    if (!nb || nb.role === 'seed' || this.opts.role === 'seed') return false;
    return nb.bytesFrom === 0 && nb.bytesTo > LEECH_BYTES && this.now() - nb.connectedAt > LEECH_GRACE_MS;
  }

  /** The transfer of `seq` in flight, if any. */
  transfer(seq: number): Transfer | undefined {
    for (const d of this.downloads.values()) if (d.seq === seq) return d;
    return undefined;
  }

  /**
   * Asks the best of `holders` for segment `seq` (`size` bytes, from the signed manifest);
   * returns the neighbour asked, or null when none can be asked now.
   */
  fetch(seq: number, size: number, holders: Iterable<string>, deadline: number): string | null {
    const now = this.now();
    const candidates: Neighbour[] = [];
    for (const id of holders) {
      const nb = this.neighbours.get(id);
      if (nb?.hello) candidates.push(nb);
    }
    const pick = chooseNeighbour(now, candidates, MAX_INFLIGHT_PER_PEER, deadline - now) as Neighbour | null;
    if (!pick) return null;
    const reqId = this.nextReqId++;
    const ok = pick.link.send({
      type: MsgType.Request,
      reqId,
      seq,
      offset: 0,
      deadlineMs: Math.max(0, Math.round(deadline - now)),
    });
    if (!ok) return null;
    pick.inflight++;
    this.downloads.set(reqId, {
      reqId,
      seq,
      peer: pick.id,
      startedAt: now,
      lastDataAt: now,
      received: 0,
      total: 0,
      expectedSize: size,
      bytes: null,
    });
    return pick.id;
  }

  /**
   * Gives up the transfer of `seq` (the planner moved it elsewhere). `penalise`: the
   * neighbour was too slow or went silent, which counts against it.
   */
  cancel(seq: number, penalise: boolean): void {
    for (const d of [...this.downloads.values()]) {
      if (d.seq !== seq) continue;
      this.neighbours.get(d.peer)?.link.send({ type: MsgType.Cancel, reqId: d.reqId });
      this.endDownload(d, penalise);
    }
  }

  /** A segment became verified here: tell the neighbours, except those known to hold it already. */
  announce(seq: number, skip?: ReadonlySet<string>): void {
    for (const nb of this.neighbours.values())
      if (nb.hello && !skip?.has(nb.id)) nb.link.send({ type: MsgType.Have, seq });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopMaintenance();
    this.unwatchLag();
    this.downloads.clear();
    for (const nb of [...this.neighbours.values()]) nb.link.close('leaving');
    this.neighbours.clear();
    this.connectedMemo = null;
  }

  // ---- neighbours ----

  private linkEvents: LinkEvents = {
    open: (link) => this.onOpen(link),
    message: (link, msg) => this.onMessage(link, msg),
    close: (link, reason) => this.onClose(link, reason),
    signal: (link, data) => this.tracker.signal(link.remoteId, data),
    writable: (link) => this.uploader.pump(link),
  };

  private addNeighbour(peerId: string, initiator: boolean, role: PeerRole): Neighbour {
    const link = new PeerLink(peerId, initiator, this.iceServers, this.linkEvents, this.log);
    const nb: Neighbour = {
      id: peerId,
      role,
      link,
      hello: false,
      announceBudget: new TokenBucket(ANNOUNCE_RATE_PER_S / 1000, ANNOUNCE_BURST, this.now()),
      connectedAt: this.now(),
      bytesFrom: 0,
      bytesTo: 0,
      overCapStreak: 0,
      inflight: 0,
      bytesPerMs: null,
      successes: 0,
      failures: 0,
      backoffUntil: 0,
    };
    this.neighbours.set(peerId, nb);
    this.connectedMemo = null;
    return nb;
  }

  private async findNeighbours(): Promise<void> {
    if (this.closed || this.finding || this.neighbours.size >= this.maxNeighbours) return;
    this.finding = true;
    try {
      const want = this.maxNeighbours - this.neighbours.size;
      const now = this.now();
      for (const [id, u] of this.unreachable)
        if (u.until <= now && now - u.until > UNREACHABLE_BACKOFF_MAX_MS) this.unreachable.delete(id);
      const waiting = [...this.unreachable].filter(([, u]) => u.until > now).map(([id]) => id);
      const exclude = [...this.neighbours.keys(), ...this.blacklist, ...waiting].slice(0, 64);
      const peers = await this.tracker.neighbours(Math.min(want, 32), exclude);
      let added = 0;
      for (const p of peers) {
        if (this.closed || this.neighbours.size >= this.maxNeighbours) break;
        if (p.peerId === this.opts.peerId || this.neighbours.has(p.peerId) || this.blacklist.has(p.peerId))
          continue;
        // Two seeds have nothing to trade.
        if (p.role === 'seed' && this.opts.role === 'seed') continue;
        this.addNeighbour(p.peerId, true, p.role);
        added++;
      }
      this.lookupDelayMs = nextLookupDelayMs(this.lookupDelayMs, added);
    } catch (err) {
      this.log.debug('neighbour lookup failed', { peer: this.opts.peerId, error: String(err) });
      this.lookupDelayMs = nextLookupDelayMs(this.lookupDelayMs, 0);
    } finally {
      this.nextLookupAt = this.now() + this.lookupDelayMs;
      this.finding = false;
    }
  }

  private onSignal(from: string, data: SignalData): void {
    if (this.closed || this.blacklist.has(from)) return;
    if (data.kind === 'offer' && (this.unreachable.get(from)?.until ?? 0) > this.now()) return;
    let nb = this.neighbours.get(from);
    if (data.kind === 'offer') {
      if (nb?.link.initiator) {
        // Both sides dialled at once: the lower id keeps its offer, the other answers.
        if (this.opts.peerId < from) return;
        this.neighbours.delete(from);
        this.connectedMemo = null;
        nb.link.close('simultaneous connect', null);
        nb = undefined;
      }
      if (!nb) {
        if (this.neighbours.size >= this.maxNeighbours + 2) return; // full: let the asker try others
        nb = this.addNeighbour(from, false, 'viewer');
      }
    }
    nb?.link.handleSignal(data);
  }

  private onOpen(link: PeerLink): void {
    const stream = this.store.stream();
    if (!stream) return link.close('no stream yet');
    link.send({
      type: MsgType.Hello,
      channel: this.store.channel,
      stream,
      peerId: this.opts.peerId,
      role: this.opts.role,
      initVersion: this.store.initVersion(),
    });
    const seqs = this.store.verifiedSeqs().slice(-HAVE_WINDOW);
    if (seqs.length) {
      const base = seqs[0]!;
      const bits = new Array<boolean>(seqs[seqs.length - 1]! - base + 1).fill(false);
      for (const s of seqs) bits[s - base] = true;
      link.send({ type: MsgType.HaveMap, base, bits });
    }
  }

  private onClose(link: PeerLink, reason: string): void {
    const nb = this.neighbours.get(link.remoteId);
    if (!nb || nb.link !== link) return;
    this.neighbours.delete(link.remoteId);
    this.connectedMemo = null;
    this.uploader.dropPeer(link);
    // Room again: look for a replacement at the next maintenance round.
    this.lookupDelayMs = 0;
    this.nextLookupAt = 0;
    if (link.openedAt === null) {
      // Never connected (e.g. both behind symmetric NATs and no TURN): back off before trying again.
      const backoffMs = unreachableBackoffMs(this.unreachable.get(link.remoteId)?.backoffMs ?? null);
      this.unreachable.set(link.remoteId, { until: this.now() + backoffMs, backoffMs });
    } else if ((this.unreachable.get(link.remoteId)?.until ?? 0) <= this.now()) {
      // Connected once: forget an old back-off (one set just now, for failing us, stays).
      this.unreachable.delete(link.remoteId);
    }
    for (const d of [...this.downloads.values()]) {
      if (d.peer !== link.remoteId) continue;
      this.endDownload(d, false);
      this.events.failed(d.seq, d.peer, 'gone');
    }
    if (nb.hello) this.events.gone(nb.id);
    this.log.debug('neighbour gone', { peer: this.opts.peerId, neighbour: link.remoteId, reason });
  }

  /** Drops a neighbour for good (bad data, protocol abuse); also one we are not linked to yet. */
  ban(peerId: string, why: string, goodbye: GoodbyeReason = GoodbyeReason.BadData): void {
    if (this.blacklist.has(peerId)) return;
    this.blacklist.add(peerId);
    this.badPeers++;
    this.log.warn('peer dropped and banned', { peer: this.opts.peerId, neighbour: peerId, why });
    this.neighbours.get(peerId)?.link.close(why, goodbye);
  }

  private maintain(): void {
    if (this.closed) return;
    const now = this.now();
    const helloTimeout = this.opts.helloTimeoutMs ?? 5000;
    for (const nb of [...this.neighbours.values()]) {
      if (!nb.hello && nb.link.openedAt !== null && now - nb.link.openedAt > helloTimeout)
        nb.link.close('no hello in time', GoodbyeReason.ProtocolError);
    }
    for (const nb of failingNeighbours([...this.neighbours.values()])) {
      this.log.info('dropping a neighbour that never delivered', {
        peer: this.opts.peerId,
        neighbour: nb.id,
        failures: nb.failures,
      });
      this.unreachable.set(nb.id, { until: now + FAILING_BACKOFF_MS, backoffMs: FAILING_BACKOFF_MS });
      nb.link.close('never delivered', GoodbyeReason.Replaced);
    }
    if (this.opts.role === 'viewer') {
      const worst = worstNeighbour([...this.neighbours.values()], this.maxNeighbours);
      if (worst) {
        this.log.info('replacing the weakest neighbour', { peer: this.opts.peerId, neighbour: worst.id });
        (worst as Neighbour).link.close('replaced by a better neighbour', GoodbyeReason.Replaced);
      }
    }
    if (this.neighbours.size < this.maxNeighbours && now >= this.nextLookupAt) void this.findNeighbours();
  }

  // ---- messages ----

  private onMessage(link: PeerLink, msg: WireMessage): void {
    const nb = this.neighbours.get(link.remoteId);
    if (!nb || nb.link !== link) return;
    if (!nb.hello && msg.type !== MsgType.Hello)
      return this.ban(nb.id, 'message before hello', GoodbyeReason.ProtocolError);
    switch (msg.type) {
      case MsgType.Hello:
        if (nb.hello) return this.ban(nb.id, 'second hello', GoodbyeReason.ProtocolError);
        if (
          msg.channel !== this.store.channel ||
          msg.stream !== this.store.stream() ||
          msg.peerId !== nb.id
        ) {
          link.close('neighbour is on another channel or stream', GoodbyeReason.WrongChannel);
          return;
        }
        nb.hello = true;
        nb.role = msg.role;
        this.connectedMemo = null;
        return;
      case MsgType.HaveMap:
      case MsgType.Have:
        if (!nb.announceBudget.take(msg.type === MsgType.HaveMap ? 16 : 1, this.now()))
          return this.ban(nb.id, 'announcement flood', GoodbyeReason.ProtocolError);
        return this.onAnnounce(nb, msg);
      case MsgType.Request:
        return this.uploader.request(link, msg);
      case MsgType.Cancel:
        return this.uploader.cancel(link, msg.reqId);
      case MsgType.Reject: {
        const d = this.downloads.get(msg.reqId);
        if (!d || d.peer !== nb.id) return;
        const refusal: Refusal =
          msg.reason === RejectReason.NotHave
            ? 'not-have'
            : msg.reason === RejectReason.OverCap && nb.role === 'seed'
              ? 'over-cap'
              : 'busy';
        nb.overCapStreak = refusal === 'over-cap' ? nb.overCapStreak + 1 : 0;
        nb.backoffUntil = this.now() + refusalBackoffMs(refusal, nb.overCapStreak);
        // A refusal counts against the neighbour (it announced, or was free, and then was
        // not) — except a seed's "over cap": handing out few copies is what seeds do.
        this.endDownload(d, refusal !== 'over-cap');
        this.events.failed(d.seq, nb.id, refusal === 'not-have' ? 'not-have' : 'busy');
        return;
      }
      case MsgType.Data:
        return this.onData(nb, msg);
      case MsgType.Ack:
        return this.uploader.ack(link, msg);
      case MsgType.Goodbye:
        link.close('neighbour said goodbye', null);
        return;
      default: {
        const never: never = msg;
        return this.ban(nb.id, `unexpected message ${String(never)}`, GoodbyeReason.ProtocolError);
      }
    }
  }

  private onAnnounce(
    nb: Neighbour,
    msg: Extract<WireMessage, { type: MsgType.HaveMap | MsgType.Have }>,
  ): void {
    if (msg.type === MsgType.Have) return this.events.have(nb.id, [msg.seq]);
    const seqs: number[] = [];
    msg.bits.forEach((b, i) => {
      if (b) seqs.push(msg.base + i);
    });
    if (seqs.length <= MAX_HAVE_COUNT) this.events.have(nb.id, seqs);
  }

  private onData(nb: Neighbour, msg: Extract<WireMessage, { type: MsgType.Data }>): void {
    const d = this.downloads.get(msg.reqId);
    if (!d || d.peer !== nb.id || msg.seq !== d.seq) return; // late chunk of a cancelled request
    if (d.total === 0) {
      // The signed manifest says how big the segment is: any other total is a lie.
      if (msg.total !== d.expectedSize)
        return this.ban(
          nb.id,
          `segment ${d.seq} announced as ${msg.total} bytes, manifest says ${d.expectedSize}`,
          GoodbyeReason.ProtocolError,
        );
      d.total = msg.total;
      d.bytes = new Uint8Array(d.total);
    }
    if (msg.total !== d.total || msg.offset !== d.received || d.received + msg.payload.length > d.total)
      return this.ban(nb.id, 'chunk out of order', GoodbyeReason.ProtocolError);
    const now = this.now();
    d.bytes!.set(msg.payload, d.received);
    d.received += msg.payload.length;
    d.lastDataAt = now;
    nb.bytesFrom += msg.payload.length;
    nb.link.send({
      type: MsgType.Ack,
      reqId: msg.reqId,
      received: d.received,
      echoSentAt: msg.sentAt,
      // The chunk waited in our event loop before we read it: that wait is CPU, not the network.
      delayMs: (((now >>> 0) - msg.sentAt) | 0) - Math.round(loopLagMs()),
    });
    if (d.received < d.total) return;
    const bytes = d.bytes!;
    this.endDownload(d, false);
    const verdict = this.events.segment(d.seq, bytes, nb.id, nb.role);
    if (verdict === 'bad') {
      this.ban(nb.id, `segment ${d.seq} failed its hash check`, GoodbyeReason.BadData);
      return;
    }
    const rate = d.total / Math.max(1, now - d.startedAt);
    nb.bytesPerMs = nb.bytesPerMs === null ? rate : nb.bytesPerMs * 0.7 + rate * 0.3;
    nb.successes++;
    nb.overCapStreak = 0;
  }

  private endDownload(d: Download, failed: boolean): void {
    if (!this.downloads.delete(d.reqId)) return;
    const nb = this.neighbours.get(d.peer);
    if (!nb) return;
    nb.inflight = Math.max(0, nb.inflight - 1);
    if (failed) nb.failures++;
  }
}
