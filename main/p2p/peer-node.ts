/**
 * The peer node of one joined channel: finds neighbours through the tracker, keeps a bounded
 * set of links, tracks who holds which segment, downloads segments the scheduler sends to
 * peers, and uploads verified segments to neighbours that ask. Bytes from a peer reach the
 * cache only after their hash matches the signed manifest; a peer that sends bad data is
 * dropped and never taken back.
 */
import type { CoreLog } from '../core/viewer-core-api';
import { kbpsToBytesPerMs } from './pacer';
import { type IceServerConfig, type LinkEvents, PeerLink, type SignalData, toIceServers } from './peer-link';
import { chooseNeighbour, type NeighbourView, worstNeighbour } from './scheduler';
import { Uploader } from './uploader';
import { GoodbyeReason, MsgType, RejectReason, type WireMessage } from './wire';

/** What the node needs from the tracker client. */
export interface SignalTransport {
  neighbours(want: number, exclude: string[]): Promise<Array<{ peerId: string; role: 'viewer' | 'seed' }>>;
  signal(to: string, data: SignalData): void;
  onSignal(listener: (from: string, data: SignalData) => void): void;
}

/** What the node needs from the channel session. */
export interface SegmentStore {
  readonly channel: string;
  stream(): string | null;
  initVersion(): number;
  /** Verified segment bytes we may share. */
  verifiedBytes(seq: number): Uint8Array | null;
  verifiedSeqs(): number[];
  /** Hands over a downloaded segment: 'ok' (verified, stored), 'bad' (hash mismatch) or 'pending' (no manifest entry yet). */
  acceptFromPeer(
    seq: number,
    bytes: Uint8Array,
    source: 'p2p' | 'seed',
    peerId: string,
  ): 'ok' | 'bad' | 'pending';
}

export interface PeerNodeOptions {
  peerId: string;
  role: 'viewer' | 'seed';
  iceServers: IceServerConfig[];
  maxNeighbours?: number;
  /** A seed hands each segment to at most this many viewers. */
  seedCopiesPerSegment?: number;
  now?: () => number;
  /** Something the scheduler cares about changed (a neighbour announced a segment). */
  wake?: () => void;
  /** Upload cap for all links (kbit/s), null = automatic (the rate control finds the spare capacity). */
  uploadCapKbps?: number | null;
  /** Delay-based rate control and pacing (off only for comparison benchmarks). */
  rateControl?: boolean;
  log: CoreLog;
}

interface Neighbour extends NeighbourView {
  link: PeerLink;
  hello: boolean;
  haves: Set<number>;
  connectedAt: number;
  /** Bytes this neighbour gave us, and we gave it (anti-leech). */
  bytesFrom: number;
  bytesTo: number;
}

/** A viewer that has taken this much from us and given nothing back for this long is served last. */
const LEECH_BYTES = 2 * 1024 * 1024;
const LEECH_GRACE_MS = 20_000;

interface Download {
  reqId: number;
  seq: number;
  peer: string;
  startedAt: number;
  lastDataAt: number;
  received: number;
  total: number;
  parts: Uint8Array[];
  done: (ok: boolean) => void;
}

const STALL_MS = 1500;
const UNREACHABLE_BACKOFF_MS = 30_000;
const UNREACHABLE_BACKOFF_MAX_MS = 5 * 60_000;
const HAVE_WINDOW = 64;

export class PeerNode {
  private readonly neighbours = new Map<string, Neighbour>();
  private readonly blacklist = new Set<string>();
  /** Neighbours we could not connect to: not dialled (nor answered) again until `until`. */
  private readonly unreachable = new Map<string, { until: number; backoffMs: number }>();
  private readonly downloads = new Map<number, Download>();
  private readonly iceServers;
  private readonly maxNeighbours: number;
  private readonly now: () => number;
  private readonly uploader: Uploader;
  private readonly timer: NodeJS.Timeout;
  private nextReqId = 1;
  private closed = false;
  private finding = false;
  bytesFromPeers = 0;
  bytesFromSeeds = 0;
  badPeers = 0;

  constructor(
    private readonly store: SegmentStore,
    private readonly tracker: SignalTransport,
    private readonly opts: PeerNodeOptions,
  ) {
    this.iceServers = toIceServers(opts.iceServers);
    this.maxNeighbours = opts.maxNeighbours ?? (opts.role === 'seed' ? 24 : 8);
    this.now = opts.now ?? Date.now;
    this.uploader = new Uploader({
      role: opts.role,
      copiesPerSegment: opts.seedCopiesPerSegment ?? 1,
      bytesOf: (seq) => store.verifiedBytes(seq),
      now: this.now,
      capBytesPerMs: kbpsToBytesPerMs(opts.uploadCapKbps ?? null),
      rateControl: opts.rateControl,
      isLeech: (link) => this.isLeech(link),
      onSent: (link, n) => {
        const nb = this.neighbours.get(link.remoteId);
        if (nb) nb.bytesTo += n;
      },
    });
    tracker.onSignal((from, data) => this.onSignal(from, data));
    this.timer = setInterval(() => this.maintain(), 500);
    void this.findNeighbours();
  }

  get log(): CoreLog {
    return this.opts.log;
  }

  get peerCount(): number {
    let n = 0;
    for (const nb of this.neighbours.values()) if (nb.hello) n++;
    return n;
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

  /** How many connected neighbours announced `seq`. */
  holders(seq: number): number {
    let n = 0;
    for (const nb of this.neighbours.values()) if (nb.hello && nb.haves.has(seq)) n++;
    return n;
  }

  progress(seq: number): { received: number; bytesPerMs: number } | undefined {
    for (const d of this.downloads.values()) {
      if (d.seq !== seq) continue;
      const ms = Math.max(1, this.now() - d.startedAt);
      return { received: d.received, bytesPerMs: d.received / ms };
    }
    return undefined;
  }

  /** Asks the best neighbour holding `seq`; false when none can be asked now. */
  fetch(seq: number, deadline: number, done: (ok: boolean) => void): boolean {
    const now = this.now();
    const holders = [...this.neighbours.values()].filter((n) => n.hello && n.haves.has(seq));
    const pick = chooseNeighbour(now, holders, 2) as Neighbour | null;
    if (!pick) return false;
    const reqId = this.nextReqId++;
    const ok = pick.link.send({
      type: MsgType.Request,
      reqId,
      seq,
      offset: 0,
      deadlineMs: Math.max(0, deadline - now),
    });
    if (!ok) return false;
    pick.inflight++;
    this.downloads.set(reqId, {
      reqId,
      seq,
      peer: pick.id,
      startedAt: now,
      lastDataAt: now,
      received: 0,
      total: 0,
      parts: [],
      done,
    });
    return true;
  }

  /** Gives up a peer transfer of `seq` (the scheduler moves it to the CDN). */
  cancel(seq: number): void {
    for (const d of [...this.downloads.values()]) {
      if (d.seq !== seq) continue;
      this.neighbours.get(d.peer)?.link.send({ type: MsgType.Cancel, reqId: d.reqId });
      this.finishDownload(d, false, false);
    }
  }

  /** A segment became verified here: tell the neighbours that lack it. */
  announce(seq: number): void {
    for (const nb of this.neighbours.values())
      if (nb.hello && !nb.haves.has(seq)) nb.link.send({ type: MsgType.Have, seq });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const d of [...this.downloads.values()]) this.finishDownload(d, false, false);
    for (const nb of [...this.neighbours.values()]) nb.link.close('leaving');
    this.neighbours.clear();
  }

  // ---- neighbours ----

  private linkEvents: LinkEvents = {
    open: (link) => this.onOpen(link),
    message: (link, msg) => this.onMessage(link, msg),
    close: (link, reason) => this.onClose(link, reason),
    signal: (link, data) => this.tracker.signal(link.remoteId, data),
    writable: (link) => this.uploader.pump(link),
  };

  private addNeighbour(peerId: string, initiator: boolean, role: 'viewer' | 'seed'): Neighbour {
    const link = new PeerLink(peerId, initiator, this.iceServers, this.linkEvents, this.log);
    const nb: Neighbour = {
      id: peerId,
      role,
      link,
      hello: false,
      haves: new Set(),
      connectedAt: this.now(),
      bytesFrom: 0,
      bytesTo: 0,
      inflight: 0,
      bytesPerMs: null,
      successes: 0,
      failures: 0,
      backoffUntil: 0,
    };
    this.neighbours.set(peerId, nb);
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
      for (const p of peers) {
        if (this.closed || this.neighbours.size >= this.maxNeighbours) break;
        if (p.peerId === this.opts.peerId || this.neighbours.has(p.peerId) || this.blacklist.has(p.peerId))
          continue;
        // Two seeds have nothing to trade.
        if (p.role === 'seed' && this.opts.role === 'seed') continue;
        this.addNeighbour(p.peerId, true, p.role);
      }
    } catch (err) {
      this.log.debug('neighbour lookup failed', { error: String(err) });
    } finally {
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
    this.uploader.dropPeer(link);
    if (link.openedAt === null) {
      // Never connected (e.g. both behind symmetric NATs and no TURN): back off before trying again.
      const prev = this.unreachable.get(link.remoteId)?.backoffMs ?? UNREACHABLE_BACKOFF_MS / 2;
      const backoffMs = Math.min(prev * 2, UNREACHABLE_BACKOFF_MAX_MS);
      this.unreachable.set(link.remoteId, { until: this.now() + backoffMs, backoffMs });
    } else {
      this.unreachable.delete(link.remoteId);
    }
    for (const d of [...this.downloads.values()])
      if (d.peer === link.remoteId) this.finishDownload(d, false, true);
    this.log.debug('neighbour gone', { peer: link.remoteId, reason });
  }

  /** A segment from `peerId` failed verification later (its manifest entry came after it). */
  banPeer(peerId: string, why: string): void {
    const nb = this.neighbours.get(peerId);
    if (nb) this.ban(nb, why, GoodbyeReason.BadData);
    else this.blacklist.add(peerId);
  }

  /** Drops a neighbour for good (bad data, protocol abuse). */
  private ban(nb: Neighbour, why: string, goodbye: GoodbyeReason): void {
    this.blacklist.add(nb.id);
    this.badPeers++;
    this.log.warn('peer dropped and banned', { peer: nb.id, why });
    nb.link.close(why, goodbye);
  }

  private maintain(): void {
    if (this.closed) return;
    const now = this.now();
    for (const d of [...this.downloads.values()]) {
      if (now - d.lastDataAt > STALL_MS) {
        this.neighbours.get(d.peer)?.link.send({ type: MsgType.Cancel, reqId: d.reqId });
        this.finishDownload(d, false, true);
      }
    }
    if (this.opts.role === 'viewer') {
      const worst = worstNeighbour([...this.neighbours.values()], this.maxNeighbours);
      if (worst) {
        this.log.info('replacing the weakest neighbour', { peer: worst.id });
        (worst as Neighbour).link.close('replaced by a better neighbour');
      }
    }
    if (this.neighbours.size < this.maxNeighbours) void this.findNeighbours();
  }

  // ---- messages ----

  private onMessage(link: PeerLink, msg: WireMessage): void {
    const nb = this.neighbours.get(link.remoteId);
    if (!nb || nb.link !== link) return;
    if (!nb.hello && msg.type !== MsgType.Hello)
      return this.ban(nb, 'message before hello', GoodbyeReason.ProtocolError);
    switch (msg.type) {
      case MsgType.Hello:
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
        link.remoteRole = msg.role;
        return;
      case MsgType.HaveMap:
        msg.bits.forEach((b, i) => {
          if (b) nb.haves.add(msg.base + i);
        });
        this.trimHaves(nb);
        this.opts.wake?.();
        return;
      case MsgType.Have:
        nb.haves.add(msg.seq);
        this.trimHaves(nb);
        this.opts.wake?.();
        return;
      case MsgType.Request:
        return this.uploader.request(link, msg);
      case MsgType.Cancel:
        return this.uploader.cancel(link, msg.reqId);
      case MsgType.Reject: {
        const d = this.downloads.get(msg.reqId);
        if (!d || d.peer !== nb.id) return;
        nb.backoffUntil = this.now() + (msg.reason === RejectReason.NotHave ? 0 : 400);
        if (msg.reason === RejectReason.NotHave) nb.haves.delete(d.seq);
        this.finishDownload(d, false, false);
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
        return this.ban(nb, `unexpected message ${String(never)}`, GoodbyeReason.ProtocolError);
      }
    }
  }

  private trimHaves(nb: Neighbour): void {
    if (nb.haves.size <= HAVE_WINDOW * 2) return;
    const keep = [...nb.haves].sort((a, b) => a - b).slice(-HAVE_WINDOW);
    nb.haves = new Set(keep);
  }

  private onData(nb: Neighbour, msg: Extract<WireMessage, { type: MsgType.Data }>): void {
    const d = this.downloads.get(msg.reqId);
    if (!d || d.peer !== nb.id || msg.seq !== d.seq) return; // late chunk of a cancelled request
    if (d.total === 0) {
      if (msg.total === 0 || msg.total > 64 * 1024 * 1024)
        return this.ban(nb, 'absurd segment size', GoodbyeReason.ProtocolError);
      d.total = msg.total;
    }
    if (msg.total !== d.total || msg.offset !== d.received)
      return this.ban(nb, 'chunk out of order', GoodbyeReason.ProtocolError);
    const now = this.now();
    d.parts.push(msg.payload.slice());
    d.received += msg.payload.length;
    d.lastDataAt = now;
    nb.bytesFrom += msg.payload.length;
    if (nb.role === 'seed') this.bytesFromSeeds += msg.payload.length;
    else this.bytesFromPeers += msg.payload.length;
    nb.link.send({
      type: MsgType.Ack,
      reqId: msg.reqId,
      received: d.received,
      echoSentAt: msg.sentAt,
      delayMs: ((now >>> 0) - msg.sentAt) | 0,
    });
    if (d.received < d.total) return;
    const bytes = new Uint8Array(d.total);
    let off = 0;
    for (const p of d.parts) {
      bytes.set(p, off);
      off += p.length;
    }
    const verdict = this.store.acceptFromPeer(d.seq, bytes, nb.role === 'seed' ? 'seed' : 'p2p', nb.id);
    if (verdict === 'bad') {
      this.finishDownload(d, false, true);
      this.ban(nb, `segment ${d.seq} failed its hash check`, GoodbyeReason.BadData);
      return;
    }
    const ms = Math.max(1, now - d.startedAt);
    const rate = d.total / ms;
    nb.bytesPerMs = nb.bytesPerMs === null ? rate : nb.bytesPerMs * 0.7 + rate * 0.3;
    nb.successes++;
    this.finishDownload(d, true, false);
  }

  private finishDownload(d: Download, ok: boolean, failed: boolean): void {
    if (!this.downloads.delete(d.reqId)) return;
    const nb = this.neighbours.get(d.peer);
    if (nb) {
      nb.inflight = Math.max(0, nb.inflight - 1);
      if (failed) nb.failures++;
    }
    d.done(ok);
  }
}
