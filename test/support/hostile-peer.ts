/**
 * A hostile neighbour for the hostile-peer tests and bench:hostile. It is built from the
 * project's own parts (tracker client, peer link, wire codec; not PeerNode): it gets the
 * channel info from the COM, joins the channel's sub-room, dials the members the tracker
 * suggests and answers those that dial it (offer/answer through the tracker; when both sides
 * dial at once the lower id keeps its offer), says a valid Hello (the manifest's channel and
 * stream), follows the signed manifest by blocking reload — and then misbehaves:
 *
 *  - oversize: announces every segment; answers a Request with Data claiming a 32 MiB segment
 *    and junk 16 KiB chunks, as fast as the link takes them;
 *  - withhold: announces every segment; rejects every Request with NotHave;
 *  - busy: announces every segment; rejects every Request with Busy;
 *  - silent: announces every segment; never answers a Request;
 *  - trickle: announces every segment; answers a Request with 512 bytes of the real segment
 *    (from the CDN) every 1.2 s — just often enough never to look silent;
 *  - fake-seed: joins the tracker and says Hello as a seed; announces nothing; never serves;
 *  - forged-acks: asks honest neighbours for segments (deadline 0: first in their queue) and
 *    acknowledges each chunk with a forged Ack: one-way delay 0 on the first (the base delay),
 *    5000 ms on every other (a queue that never drains), and an echoed send time a minute old
 *    (an inflated round trip), to pin the sender's upload window and pace;
 *  - have-flood: announces, then sends thousands of Have messages a second on every link;
 *  - reconnect: like withhold, but when a neighbour drops it (closes the link without saying
 *    Goodbye Leaving) it leaves and rejoins under a new peer id, up to `maxRejoins` times.
 *
 * Every link callback and timer body is guarded: an exception inside a node-datachannel
 * callback would abort the whole process.
 */
import type { KeyObject } from 'node:crypto';
import type { ComChannelInfo } from '../../common/com';
import type { CoreLog } from '../../common/logger';
import type { Manifest } from '../../common/manifest';
import type { PeerRole } from '../../common/tracker-protocol';
import { CdnClient } from '../../main/core/manifest/cdn-client';
import { ComClient } from '../../main/core/manifest/com-client';
import { LOW_WATER_BYTES, PeerLink, type SignalData, toIceServers } from '../../main/p2p/peer-link';
import { TrackerClient } from '../../main/p2p/tracker-client';
import { GoodbyeReason, MAX_HAVE_COUNT, MsgType, RejectReason, type WireMessage } from '../../main/p2p/wire';

export const HOSTILE_BEHAVIOURS = [
  'oversize',
  'withhold',
  'busy',
  'silent',
  'trickle',
  'fake-seed',
  'forged-acks',
  'have-flood',
  'reconnect',
] as const;
export type HostileBehaviour = (typeof HOSTILE_BEHAVIOURS)[number];

export interface HostileOptions {
  log?: CoreLog;
  /** Links kept at once (default 8, as a viewer). */
  maxNeighbours?: number;
  /** reconnect: how many times it comes back under a new id (default 5). */
  maxRejoins?: number;
  /** have-flood: Have messages a second on each link (default 5000). */
  haveFloodPerSecond?: number;
  /** oversize: the segment size claimed (default 32 MiB). */
  oversizeTotal?: number;
  /** trickle: bytes per chunk and the gap between chunks (default 512 B every 1200 ms). */
  trickleBytes?: number;
  trickleEveryMs?: number;
}

/** What the hostile peer did, over all its identities. */
export interface HostileCounts {
  /** Tracker identities used (1 + rejoins). */
  identities: number;
  rejoins: number;
  linksOpened: number;
  /** Links that had opened and then closed (either side). */
  linksClosed: number;
  /** Requests neighbours sent us. */
  requestsSeen: number;
  rejectsSent: number;
  dataSent: number;
  /** Payload bytes sent in Data messages. */
  bytesSent: number;
  havesSent: number;
  /** Requests we sent (forged-acks). */
  requestsSent: number;
  bytesReceived: number;
  acksForged: number;
  /**
   * Links a neighbour closed on us (not with Goodbye Leaving): a ban, a replacement, a crash.
   * Whether it was a ban shows in the neighbour's own counters: its Goodbye rarely arrives, as
   * the link is torn down right after it.
   */
  dropped: number;
  /** Date.now() of the first drop. */
  firstDropAt: number | null;
  /** Date.now() of the first viewer (not seed) that said Hello on a link, and of the first request a neighbour sent. */
  firstLinkAt: number | null;
  firstRequestAt: number | null;
  /** Goodbye ProtocolError / BadData that did arrive: a ban for sure. */
  banned: number;
  /** Goodbye Replaced that did arrive: a neighbour replaced us with a better one. */
  replaced: number;
  /** Guarded callbacks that threw. */
  errors: number;
}

export interface HostilePeer {
  readonly behaviour: HostileBehaviour;
  readonly counts: HostileCounts;
  /** The current peer id (reconnect changes it). */
  readonly peerId: string;
  /** Every peer id it has used. */
  readonly peerIds: readonly string[];
  /** Open links now. */
  readonly openLinks: number;
  close(): Promise<void>;
}

/** Peer ids of the hostile peers of this process: they do not link to each other. */
const hostileIds = new Set<string>();

const CHUNK = 16 * 1024;
const JUNK = new Uint8Array(CHUNK).map((_, i) => (i * 131 + 7) & 0xff);
const DIAL_EVERY_MS = 1000;
const UNREACHABLE_MS = 10_000;
const DROPPED_AVOID_MS = 30_000;
/** forged-acks: requests in flight per neighbour, and how long one may go without data. */
const FORGED_INFLIGHT = 2;
const FORGED_STALE_MS = 3000;
const FORGED_DELAY_MS = 5000;
const FORGED_RTT_MS = 59_000;
const FLOOD_TICK_MS = 20;
/** Segments beyond the manifest's newest one an honest viewer still takes announcements for. */
const FLOOD_AHEAD = 3;

interface Job {
  reqId: number;
  seq: number;
  offset: number;
  total: number;
  bytes: Uint8Array | null;
  timer: NodeJS.Timeout | null;
}

interface Neighbour {
  id: string;
  link: PeerLink;
  identity: Identity;
  opened: boolean;
  /** Their Hello arrived. */
  hello: boolean;
  /** We closed the link (leaving, simultaneous connect), or their Goodbye's reason. */
  closedByUs: boolean;
  goodbye: GoodbyeReason | null;
  /** What they announced (forged-acks asks for it). */
  has: Set<number>;
  asked: Set<number>;
  inflight: Map<number, { seq: number; lastAt: number }>;
  acks: number;
  /** Answers in flight (oversize, trickle). */
  jobs: Map<number, Job>;
  floodNext: number;
}

type Ticketed = ComChannelInfo['peer'];

interface Identity {
  peerId: string;
  tracker: TrackerClient;
  links: Map<string, Neighbour>;
  unsubscribe: () => void;
}

const NO_LOG: CoreLog = { info() {}, warn() {}, error() {}, debug() {} };

/** Whether the behaviour claims to hold every segment. */
function announces(b: HostileBehaviour): boolean {
  return b !== 'fake-seed' && b !== 'forged-acks';
}

class Hostile implements HostilePeer {
  readonly counts: HostileCounts = {
    identities: 0,
    rejoins: 0,
    linksOpened: 0,
    linksClosed: 0,
    requestsSeen: 0,
    rejectsSent: 0,
    dataSent: 0,
    bytesSent: 0,
    havesSent: 0,
    requestsSent: 0,
    bytesReceived: 0,
    acksForged: 0,
    dropped: 0,
    firstDropAt: null,
    firstLinkAt: null,
    firstRequestAt: null,
    banned: 0,
    replaced: 0,
    errors: 0,
  };
  readonly peerIds: string[] = [];
  private identity: Identity;
  private readonly role: PeerRole;
  private readonly iceServers: ReturnType<typeof toIceServers>;
  private readonly cdn: CdnClient;
  private readonly abort = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Neighbours that banned us, or that we could not reach: not dialled (until the time). */
  private readonly avoid = new Map<string, number>();
  private readonly segments = new Map<number, Promise<Uint8Array | null>>();
  private stream: string;
  private initVersion: number;
  private first: number | null = null;
  private latest: number | null = null;
  private dialling = false;
  private rejoinPending = false;
  private nextReqId = 1;
  private closed = false;

  constructor(
    readonly behaviour: HostileBehaviour,
    firstPeer: Ticketed,
    private readonly freshPeer: () => Promise<Ticketed>,
    private readonly channel: string,
    private readonly subRoom: string,
    private readonly trackerUrl: string,
    iceServers: Parameters<typeof toIceServers>[0],
    originBaseUrl: string,
    private readonly key: KeyObject,
    manifest: Manifest,
    private readonly opts: HostileOptions,
    private readonly log: CoreLog,
  ) {
    this.role = behaviour === 'fake-seed' ? 'seed' : 'viewer';
    this.iceServers = toIceServers(iceServers);
    this.cdn = new CdnClient(originBaseUrl);
    this.stream = manifest.stream;
    this.initVersion = 0;
    this.identity = this.join(firstPeer);
    this.applyManifest(manifest);
    this.every(DIAL_EVERY_MS, 'dial', () => void this.dial());
    if (behaviour === 'forged-acks') this.every(100, 'request', () => this.requestMore());
    if (behaviour === 'have-flood') this.every(FLOOD_TICK_MS, 'flood', () => this.flood());
    void this.followManifest();
  }

  get peerId(): string {
    return this.identity.peerId;
  }

  get openLinks(): number {
    let n = 0;
    for (const nb of this.identity.links.values()) if (nb.link.isOpen) n++;
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    await this.leave(this.identity);
  }

  // ---- guards ----

  /** Runs a callback body; an exception is counted and logged, never thrown into native code. */
  private safe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.counts.errors++;
      this.log.warn('hostile peer: callback failed', { what, error: String(err) });
    }
  }

  private every(ms: number, what: string, fn: () => void): void {
    this.timers.push(setInterval(() => this.safe(what, fn), ms));
  }

  // ---- identity: tracker, links ----

  private join(peer: Ticketed): Identity {
    const peerId = peer.id;
    hostileIds.add(peerId);
    this.peerIds.push(peerId);
    this.counts.identities++;
    const tracker = new TrackerClient({
      url: this.trackerUrl,
      channel: this.channel,
      subRoom: this.subRoom,
      peerId,
      role: peer.role,
      ticket: peer.ticket,
      log: this.log,
      stats: () => ({ latestSeq: announces(this.behaviour) ? this.latest : null }),
    });
    const identity: Identity = { peerId, tracker, links: new Map(), unsubscribe: () => undefined };
    identity.unsubscribe = tracker.onSignal((from, data) =>
      this.safe('signal', () => this.onSignal(identity, from, data)),
    );
    tracker
      .connect()
      .catch((err: unknown) => this.log.debug('hostile peer: tracker', { error: String(err) }));
    return identity;
  }

  private async leave(identity: Identity): Promise<void> {
    identity.unsubscribe();
    for (const nb of [...identity.links.values()]) this.closeLink(nb, 'leaving', GoodbyeReason.Leaving);
    identity.links.clear();
    hostileIds.delete(identity.peerId);
    await identity.tracker.close();
  }

  private rejoin(): void {
    const max = this.opts.maxRejoins ?? 5;
    if (this.closed || this.rejoinPending || this.counts.rejoins >= max) return;
    this.rejoinPending = true;
    // Off the link's callback: leaving closes every link, this one included. A new identity
    // needs a new ticket from the COM (clients cannot choose peer ids).
    void this.freshPeer()
      .then((peer) =>
        this.safe('rejoin', () => {
          this.rejoinPending = false;
          if (this.closed) return;
          const old = this.identity;
          this.counts.rejoins++;
          // A new id is a stranger to everyone again, those that banned the old one included.
          this.avoid.clear();
          this.identity = this.join(peer);
          void this.leave(old);
        }),
      )
      .catch((err: unknown) => {
        this.rejoinPending = false;
        this.log.debug('hostile peer: no new ticket', { error: String(err) });
      });
  }

  private async dial(): Promise<void> {
    const id = this.identity;
    const max = this.opts.maxNeighbours ?? 8;
    if (this.closed || this.dialling || !id.tracker.connected || id.links.size >= max) return;
    this.dialling = true;
    try {
      const now = Date.now();
      for (const [peer, until] of this.avoid) if (until <= now) this.avoid.delete(peer);
      const exclude = [...id.links.keys(), ...this.avoid.keys(), ...hostileIds].slice(-64);
      const peers = await id.tracker.neighbours(Math.min(32, max - id.links.size), exclude);
      for (const p of peers) {
        if (this.closed || this.identity !== id || id.links.size >= max) break;
        if (id.links.has(p.peerId) || this.avoid.has(p.peerId) || hostileIds.has(p.peerId)) continue;
        if (p.role === 'seed' && this.role === 'seed') continue;
        this.addLink(id, p.peerId, true);
      }
    } catch (err) {
      this.log.debug('hostile peer: neighbour lookup failed', { error: String(err) });
    } finally {
      this.dialling = false;
    }
  }

  private onSignal(id: Identity, from: string, data: SignalData): void {
    if (this.closed || id !== this.identity || hostileIds.has(from)) return;
    let nb = id.links.get(from);
    if (data.kind === 'offer') {
      if (nb?.link.initiator) {
        // Both sides dialled at once: the lower id keeps its offer, the other answers.
        if (id.peerId < from) return;
        id.links.delete(from);
        this.closeLink(nb, 'simultaneous connect', null);
        nb = undefined;
      }
      if (!nb) {
        if (id.links.size >= (this.opts.maxNeighbours ?? 8) + 2) return;
        nb = this.addLink(id, from, false);
      }
    }
    nb?.link.handleSignal(data);
  }

  private addLink(identity: Identity, remote: string, initiator: boolean): Neighbour {
    const nb: Neighbour = {
      id: remote,
      identity,
      link: null as unknown as PeerLink,
      opened: false,
      hello: false,
      closedByUs: false,
      goodbye: null,
      has: new Set(),
      asked: new Set(),
      inflight: new Map(),
      acks: 0,
      jobs: new Map(),
      floodNext: 0,
    };
    identity.links.set(remote, nb);
    nb.link = new PeerLink(
      remote,
      initiator,
      this.iceServers,
      {
        open: () => this.safe('open', () => this.onOpen(nb)),
        message: (_l, msg) => this.safe('message', () => this.onMessage(nb, msg)),
        close: (_l, reason) => this.safe('close', () => this.onClose(nb, reason)),
        signal: (_l, data) => this.safe('local signal', () => void identity.tracker.signal(remote, data)),
        writable: () => this.safe('writable', () => this.pumpOversize(nb)),
      },
      this.log,
    );
    return nb;
  }

  private onOpen(nb: Neighbour): void {
    nb.opened = true;
    this.counts.linksOpened++;
    nb.link.send({
      type: MsgType.Hello,
      channel: this.channel,
      stream: this.stream,
      peerId: nb.identity.peerId,
      role: this.role,
      initVersion: this.initVersion,
    });
    if (announces(this.behaviour) && this.first !== null && this.latest !== null) {
      const base = Math.max(this.first, this.latest - MAX_HAVE_COUNT + 1);
      nb.link.send({
        type: MsgType.HaveMap,
        base,
        bits: new Array<boolean>(this.latest - base + 1).fill(true),
      });
    }
  }

  private onClose(nb: Neighbour, reason: string): void {
    for (const job of nb.jobs.values()) if (job.timer) clearInterval(job.timer);
    nb.jobs.clear();
    if (nb.identity.links.get(nb.id) === nb) nb.identity.links.delete(nb.id);
    this.log.debug('hostile peer: link closed', { neighbour: nb.id, reason });
    if (this.closed) return;
    if (!nb.opened) {
      this.avoid.set(nb.id, Date.now() + UNREACHABLE_MS);
      return;
    }
    this.counts.linksClosed++;
    if (nb.closedByUs || nb.goodbye === GoodbyeReason.Leaving) return;
    // Dropped: most likely banned (a banned peer's offers go unanswered), so not dialled for a while.
    this.counts.dropped++;
    this.counts.firstDropAt ??= Date.now();
    this.avoid.set(nb.id, Date.now() + DROPPED_AVOID_MS);
    if (this.behaviour === 'reconnect') this.rejoin();
  }

  private closeLink(nb: Neighbour, reason: string, goodbye: GoodbyeReason | null): void {
    nb.closedByUs = true;
    nb.link.close(reason, goodbye);
  }

  // ---- messages ----

  private onMessage(nb: Neighbour, msg: WireMessage): void {
    switch (msg.type) {
      case MsgType.Hello:
        nb.hello = true;
        if (msg.role === 'viewer') this.counts.firstLinkAt ??= Date.now();
        return;
      case MsgType.HaveMap:
        msg.bits.forEach((b, i) => {
          if (b) nb.has.add(msg.base + i);
        });
        return this.trimHas(nb);
      case MsgType.Have:
        nb.has.add(msg.seq);
        return this.trimHas(nb);
      case MsgType.Request:
        this.counts.requestsSeen++;
        this.counts.firstRequestAt ??= Date.now();
        return this.onRequest(nb, msg);
      case MsgType.Cancel: {
        const job = nb.jobs.get(msg.reqId);
        if (job?.timer) clearInterval(job.timer);
        nb.jobs.delete(msg.reqId);
        return;
      }
      case MsgType.Reject:
        nb.inflight.delete(msg.reqId);
        return;
      case MsgType.Data:
        return this.forgeAck(nb, msg);
      case MsgType.Ack:
        return; // no rate control here
      case MsgType.Goodbye:
        return this.onGoodbye(nb, msg.reason);
      default:
        return;
    }
  }

  private onGoodbye(nb: Neighbour, reason: GoodbyeReason): void {
    if (reason === GoodbyeReason.ProtocolError || reason === GoodbyeReason.BadData) this.counts.banned++;
    else if (reason === GoodbyeReason.Replaced) this.counts.replaced++;
    nb.goodbye = reason;
    nb.link.close('neighbour said goodbye', null); // onClose counts the drop
  }

  private reject(nb: Neighbour, reqId: number, reason: RejectReason): void {
    if (nb.link.send({ type: MsgType.Reject, reqId, reason })) this.counts.rejectsSent++;
  }

  private onRequest(nb: Neighbour, req: Extract<WireMessage, { type: MsgType.Request }>): void {
    switch (this.behaviour) {
      case 'oversize':
        nb.jobs.set(req.reqId, {
          reqId: req.reqId,
          seq: req.seq,
          offset: 0,
          total: this.opts.oversizeTotal ?? 32 * 1024 * 1024,
          bytes: null,
          timer: null,
        });
        return this.pumpOversize(nb);
      case 'trickle':
        return void this.trickle(nb, req);
      case 'busy':
        return this.reject(nb, req.reqId, RejectReason.Busy);
      case 'silent':
      case 'fake-seed':
        return;
      default:
        return this.reject(nb, req.reqId, RejectReason.NotHave);
    }
  }

  private sendData(nb: Neighbour, job: Job, payload: Uint8Array): boolean {
    const ok = nb.link.send({
      type: MsgType.Data,
      reqId: job.reqId,
      seq: job.seq,
      offset: job.offset,
      total: job.total,
      sentAt: Date.now() >>> 0,
      payload,
    });
    if (!ok) return false;
    job.offset += payload.length;
    this.counts.dataSent++;
    this.counts.bytesSent += payload.length;
    return true;
  }

  /** oversize: junk chunks of the claimed huge segment while the link's queue has room. */
  private pumpOversize(nb: Neighbour): void {
    for (const job of [...nb.jobs.values()]) {
      if (job.bytes) continue; // a trickle job
      while (job.offset < job.total && nb.link.isOpen && nb.link.bufferedAmount() < LOW_WATER_BYTES) {
        if (!this.sendData(nb, job, JUNK.subarray(0, Math.min(CHUNK, job.total - job.offset)))) return;
      }
      if (job.offset >= job.total) nb.jobs.delete(job.reqId);
    }
  }

  /** trickle: the real segment, a few hundred bytes at a time. */
  private async trickle(nb: Neighbour, req: Extract<WireMessage, { type: MsgType.Request }>): Promise<void> {
    const bytes = await this.segmentBytes(req.seq);
    if (this.closed || !nb.link.isOpen) return;
    if (!bytes || req.offset >= bytes.length) return this.reject(nb, req.reqId, RejectReason.NotHave);
    const job: Job = {
      reqId: req.reqId,
      seq: req.seq,
      offset: req.offset,
      total: bytes.length,
      bytes,
      timer: null,
    };
    nb.jobs.set(req.reqId, job);
    const step = this.opts.trickleBytes ?? 512;
    const tick = () =>
      this.safe('trickle', () => {
        const live = nb.jobs.get(job.reqId) === job && nb.link.isOpen;
        if (live) this.sendData(nb, job, bytes.subarray(job.offset, Math.min(job.offset + step, job.total)));
        if (!live || job.offset >= job.total) {
          if (job.timer) clearInterval(job.timer);
          if (nb.jobs.get(job.reqId) === job) nb.jobs.delete(job.reqId);
        }
      });
    job.timer = setInterval(tick, this.opts.trickleEveryMs ?? 1200);
    tick();
  }

  /** A real segment from the CDN (a few kept). */
  private segmentBytes(seq: number): Promise<Uint8Array | null> {
    let p = this.segments.get(seq);
    if (!p) {
      const parts: Uint8Array[] = [];
      p = this.cdn
        .segment(this.channel, this.stream, seq, (c) => void parts.push(c), this.abort.signal)
        .then(() => Buffer.concat(parts))
        .catch(() => null);
      this.segments.set(seq, p);
      if (this.segments.size > 16) this.segments.delete(this.segments.keys().next().value!);
    }
    return p;
  }

  // ---- forged-acks ----

  private trimHas(nb: Neighbour): void {
    if (nb.has.size <= 2 * MAX_HAVE_COUNT) return;
    const keep = [...nb.has].sort((a, b) => b - a).slice(0, MAX_HAVE_COUNT);
    nb.has = new Set(keep);
  }

  private requestMore(): void {
    const now = Date.now();
    for (const nb of this.identity.links.values()) {
      if (!nb.hello || !nb.link.isOpen) continue;
      for (const [reqId, r] of nb.inflight) {
        if (now - r.lastAt < FORGED_STALE_MS) continue;
        nb.link.send({ type: MsgType.Cancel, reqId });
        nb.inflight.delete(reqId);
      }
      while (nb.inflight.size < FORGED_INFLIGHT) {
        let seq = -1;
        for (const s of nb.has) if (s > seq && !nb.asked.has(s)) seq = s;
        if (seq < 0) break;
        const reqId = this.nextReqId++;
        nb.asked.add(seq);
        // Deadline 0: the most urgent request in the sender's queue.
        if (!nb.link.send({ type: MsgType.Request, reqId, seq, offset: 0, deadlineMs: 0 })) break;
        nb.inflight.set(reqId, { seq, lastAt: now });
        this.counts.requestsSent++;
      }
    }
  }

  private forgeAck(nb: Neighbour, msg: Extract<WireMessage, { type: MsgType.Data }>): void {
    const r = nb.inflight.get(msg.reqId);
    if (!r) return;
    r.lastAt = Date.now();
    const received = msg.offset + msg.payload.length;
    this.counts.bytesReceived += msg.payload.length;
    nb.link.send({
      type: MsgType.Ack,
      reqId: msg.reqId,
      received,
      echoSentAt: (msg.sentAt - FORGED_RTT_MS) >>> 0,
      delayMs: nb.acks === 0 ? 0 : FORGED_DELAY_MS,
    });
    nb.acks++;
    this.counts.acksForged++;
    if (received >= msg.total) nb.inflight.delete(msg.reqId);
  }

  // ---- have-flood ----

  private flood(): void {
    if (this.first === null || this.latest === null) return;
    const perTick = Math.max(1, Math.round(((this.opts.haveFloodPerSecond ?? 5000) * FLOOD_TICK_MS) / 1000));
    const lo = Math.max(this.first, this.latest - 63);
    const span = this.latest + FLOOD_AHEAD - lo + 1;
    for (const nb of this.identity.links.values()) {
      if (!nb.link.isOpen) continue;
      for (let i = 0; i < perTick && nb.link.bufferedAmount() < LOW_WATER_BYTES; i++) {
        if (!nb.link.send({ type: MsgType.Have, seq: lo + (nb.floodNext++ % span) })) break;
        this.counts.havesSent++;
      }
    }
  }

  // ---- the manifest ----

  private applyManifest(m: Manifest): void {
    if (m.stream !== this.stream) {
      this.stream = m.stream;
      this.latest = null;
    }
    const segs = m.segments;
    if (segs.length === 0) return;
    this.initVersion = segs[segs.length - 1]!.initVersion;
    this.first = segs[0]!.seq;
    const fresh = segs.filter((s) => this.latest === null || s.seq > this.latest).map((s) => s.seq);
    this.latest = segs[segs.length - 1]!.seq;
    if (!announces(this.behaviour) || fresh.length > MAX_HAVE_COUNT) return;
    for (const nb of this.identity.links.values()) {
      if (!nb.link.isOpen) continue;
      for (const seq of fresh) if (nb.link.send({ type: MsgType.Have, seq })) this.counts.havesSent++;
    }
  }

  private async followManifest(): Promise<void> {
    while (!this.closed) {
      try {
        const m = await this.cdn.manifest(this.channel, this.key, this.latest, null, this.abort.signal);
        this.safe('manifest', () => this.applyManifest(m));
        if (!m.live) await new Promise((r) => setTimeout(r, 1000));
      } catch (err) {
        if (this.closed) return;
        this.log.debug('hostile peer: manifest reload failed', { error: String(err) });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

/**
 * Starts a hostile peer on `channel` of the server at `serverUrl` (its COM service): resolves
 * once it has the channel info and has begun joining the sub-room.
 */
export async function startHostilePeer(
  serverUrl: string,
  channel: string,
  behaviour: HostileBehaviour,
  opts: HostileOptions = {},
): Promise<HostilePeer> {
  // Every identity is a peer id and ticket from the COM, as for anyone (a fake seed asks for a
  // seed ticket, which a loopback server without a seed secret grants).
  const com = new ComClient(serverUrl);
  const hints = behaviour === 'fake-seed' ? { role: 'seed' as const } : {};
  const info = await com.channelInfo(channel, hints);
  return new Hostile(
    behaviour,
    info.com.peer,
    async () => (await com.channelInfo(channel, hints)).com.peer,
    channel,
    info.com.tracker.subRoom,
    info.com.tracker.url,
    info.com.iceServers,
    info.com.originBaseUrl,
    info.publicKey,
    info.manifest,
    opts,
    opts.log ?? NO_LOG,
  );
}

/** Starts `count` hostile peers of each behaviour in `behaviours`. */
export async function startHostilePeers(
  serverUrl: string,
  channel: string,
  behaviours: readonly HostileBehaviour[],
  count = 1,
  opts: HostileOptions = {},
): Promise<HostilePeer[]> {
  const list = behaviours.flatMap((b) => new Array<HostileBehaviour>(count).fill(b));
  return Promise.all(list.map((b) => startHostilePeer(serverUrl, channel, b, opts)));
}
