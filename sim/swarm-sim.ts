/**
 * The swarm simulator: a discrete-event simulation of one channel's room — viewers arriving
 * and leaving, sub-rooms with their trackers and seeds, neighbour links through NATs, a CDN —
 * in which every decision is taken by the project's own pure policies, from the same modules
 * the viewer app and the servers run:
 *
 *  - the COM's sub-room assignment (server/com/sub-rooms.ts assignSubRoom);
 *  - the tracker's neighbour suggestions (server/tracker/neighbours.ts chooseNeighbours);
 *  - the peer node's neighbour policy: which holder to ask, which neighbour to drop
 *    (main/p2p/neighbour-policy.ts chooseNeighbour, worstNeighbour, failingNeighbours) and its
 *    back-off constants;
 *  - the fetch engine's planner: which segment from where, deadline rescue from the CDN,
 *    cancelling silent or slow transfers, the first-copy rule (main/core/engine/planner.ts
 *    plan, firstCopyRank, firstCopyDueAt, limitsForCdnTime), fed as FetchEngine feeds it: the live window
 *    from the start segment to the newest entry, deadlines = origin time + latency target −
 *    the player's margin, holders = neighbours whose announcement has arrived, the first-copy
 *    room = this viewer and its viewer neighbours unless a seed is among them, the live edge
 *    streamed from the CDN while no peer is connected;
 *  - the uploader's admission and order (main/p2p/upload-policy.ts admitRequest, jobDeadline,
 *    uploadsBefore), and its rate control's utilisation of each uplink, measured by running the
 *    real Ledbat window and pacing bucket (sim/network.ts).
 *
 * What is simulated rather than run: the network. Transfers are whole segments; an uplink is a
 * fluid server that sends the first job in the uploader's order (uploadsBefore: earliest
 * deadline first) until it is done — the Uploader lets the most urgent job of a link whose acks
 * flow take its whole window (uplinkSharing 'links', the equal share per busy link the Uploader
 * had before, is kept as a what-if). Announcements,
 * requests and replies take the link's one-way delay; links take a few round trips to open,
 * or never open between incompatible NATs (no TURN). The CDN has no capacity limit.
 */
import { BEAT_MS } from '../common/heartbeat';
import { normalModeTargetS } from '../common/live-sync';
import type { PeerInfo, PeerRole } from '../common/tracker-protocol';
import {
  DEFAULT_LIMITS,
  firstCopyDueAt,
  firstCopyRank,
  limitsForCdnTime,
  type PlanLimits,
  type PlanSegment,
  plan,
  smoothCdnFetchMs,
} from '../main/core/engine/planner';
import {
  chooseNeighbour,
  defaultMaxNeighbours,
  FAILING_BACKOFF_MS,
  failingNeighbours,
  MAX_INFLIGHT_PER_PEER,
  UNREACHABLE_BACKOFF_MAX_MS,
  UNREACHABLE_BACKOFF_MS,
  worstNeighbour,
} from '../main/p2p/neighbour-policy';
import { admitRequest, jobDeadline, servableInTime, uploadsBefore } from '../main/p2p/upload-policy';
import { RejectReason } from '../main/p2p/wire';
import { assignSubRoom, EMPTY_ROOM, type RoomState } from '../server/com/sub-rooms';
import {
  chooseNeighbours,
  DEFAULT_NEIGHBOUR_OPTIONS,
  type NeighbourOptions,
  type RandomSource,
  seededRandom,
} from '../server/tracker/neighbours';
import { EventQueue } from './heap';
import { CONNECT_TIMEOUT_MS, cdnFetchMs, linkSetupMs, oneWayMs, RateControlTable } from './network';
import {
  ISP_SHARES,
  Nat,
  natCompatible,
  pickShare,
  REGION_SHARES,
  sampleNat,
  sampleUploadMbps,
} from './upload-distribution';
import { type Job, Link, SimNode, Source, Status, WINDOW, WINDOW_MASK } from './viewer';

export interface SimConfig {
  /** Concurrent viewers (departures are replaced, so the room stays this large). */
  viewers: number;
  bitrateKbps: number;
  /** Seconds of stream simulated from the first arrival. */
  durationS: number;
  seed: number;
  /** Viewers per sub-room before another opens (Infinity: one sub-room). */
  subRoomSize: number;
  /** Seeds per sub-room. */
  seedsPerSubRoom: number;
  /** Copies of each segment a seed hands out (swarmcast seed --copies). */
  seedCopies: number;
  seedUpMbps: number;
  /** ISP/region hints go to the COM and the tracker (false: random choice, for comparison). */
  ispAware: boolean;
  neighbourOptions: NeighbourOptions;
  /** Initial arrivals are spread over this long (s), or are `staggerMs` apart when set. */
  rampS: number;
  staggerMs?: number;
  /** Mean watch time (s); departures are replaced by new arrivals. Infinity: no churn. */
  sessionMeanS: number;
  /** Each viewer watches exactly this long (s) instead (bench:swarm's --duration). */
  watchS?: number;
  /** The steady-state figures count from this long after the last initial arrival (s). */
  warmupS: number;
  /** Upload capacity of every viewer (Mbit/s) instead of the distribution. */
  fixedUploadMbps?: number;
  downMbps: number;
  /** Scale on every viewer's upload (what is left beside the household's own traffic). */
  uploadScale: number;
  /** All on one network (loopback): one ISP and region, every NAT open, tiny delays. */
  loopback: boolean;
  /**
   * Pairs of nodes (by creation order, seeds included) whose link never opens, as between two
   * NATs that cannot meet: members of a small room that see different rooms.
   */
  unlinked?: ReadonlyArray<readonly [number, number]>;
  /** From arrival to the engine's first plan (COM, manifest) (ms). */
  joinDelayMs: number;
  /** Extra time a link takes to open (ms; a loaded machine). */
  extraLinkSetupMs: number;
  /**
   * The latency target of normal mode (ms); null = the app's rule: normalModeTargetS of the
   * viewer's sub-room size when the COM placed it (common/live-sync.ts).
   */
  latencyTargetMs: number | null;
  /**
   * How an uplink is shared: 'serial' — all of it to the first job in the upload order
   * (uploadsBefore) until it is done (what the Uploader does for links whose acks flow);
   * 'links' — a what-if: equally by the links with something queued (the Uploader before).
   */
  uplinkSharing: 'links' | 'serial';
  /**
   * What an uploader takes on: 'all' — what admitRequest accepts (the Uploader today);
   * 'in-time' — a what-if: it also refuses (Busy) a request it cannot finish before the
   * requester's deadline at its current share of the uplink, so the requester looks elsewhere
   * at once instead of cancelling a slow transfer later.
   */
  admission: 'all' | 'in-time';
  /** Segments per GOP (keyframe every this many segments; the start segment is keyed). */
  gopSegments: number;
  /**
   * Every process on one machine (bench:swarm): while the processes want more CPU than the
   * machine has, everything a process does — opening links, sending, reading the CDN — takes
   * longer by demand / cores. A viewer wants `startupCpuS` over its first `startupS`, then
   * `steadyCpuShare` of a core; the server and seed want `baseCores`.
   */
  /** Called every 5 s of simulated time (progress lines on stderr). */
  progress?: (info: { simS: number; viewers: number; events: number; cpuS: number }) => void;
  machine?: {
    cores: number;
    startupCpuS: number;
    startupS: number;
    steadyCpuShare: number;
    baseCores: number;
  };
}

export const DEFAULT_CONFIG: SimConfig = {
  viewers: 10_000,
  bitrateKbps: 4000,
  durationS: 60,
  seed: 1,
  subRoomSize: 1000,
  seedsPerSubRoom: 1,
  seedCopies: 4,
  seedUpMbps: 1000,
  ispAware: true,
  neighbourOptions: DEFAULT_NEIGHBOUR_OPTIONS,
  rampS: 20,
  sessionMeanS: 600,
  warmupS: 10,
  downMbps: 50,
  uploadScale: 1,
  loopback: false,
  joinDelayMs: 400,
  extraLinkSetupMs: 0,
  latencyTargetMs: null,
  gopSegments: 2,
  uplinkSharing: 'serial',
  admission: 'all',
};

export interface SimResult {
  viewers: number;
  sessions: number;
  subRooms: number;
  seeds: number;
  /** Steady window: bytes received by viewers from viewers / all bytes received by viewers. */
  p2pShare: number;
  /** The same over the whole run (start-up included: what bench:swarm measures). */
  p2pShareAll: number;
  seedShareAll: number;
  stallRatio: number;
  /** Share of viewer-to-viewer bytes that crossed ISPs (steady window). */
  crossIspShare: number;
  startupMsMedian: number;
  bytesCdn: number;
  bytesP2p: number;
  bytesSeed: number;
  /** Conservation: bytes sent by uplinks, and bytes the other ends received (whole or cut off). */
  bytesUploaded: number;
  bytesPeerWire: number;
  /** Largest (bytes sent / (capacity × time online)) over nodes: ≤ 1. */
  maxUplinkUse: number;
  /** Aggregate viewer upload capacity / aggregate demand (bitrate × viewers). */
  uploadToDemand: number;
  /** Mean over viewers of the share of their uplink used in the steady window. */
  meanUplinkBusy: number;
  linksFailedNat: number;
  /** The planner's decisions and the uploaders' refusals, counted. */
  counts: Record<string, number>;
  events: number;
  wallS: number;
  /** CPU seconds the run took (this process; wall time also counts other load on the machine). */
  cpuS: number;
}

enum Ev {
  List = 1,
  Pass = 2,
  CdnDone = 3,
  ReqArrive = 4,
  Reject = 5,
  Uplink = 6,
  Deliver = 7,
  Maintain = 8,
  Arrive = 9,
  Leave = 10,
  Offer = 11,
  Open = 12,
  Timeout = 13,
  Engine = 14,
  Find = 15,
}

/** The engine's periodic pass while something is outstanding (FetchEngine tickMs: a heartbeat). */
const TICK_MS = BEAT_MS;
/** Shortest time between two passes (FetchEngine MIN_PASS_GAP_MS). */
const MIN_PASS_GAP_MS = 20;
/** The peer node's maintenance period (ms). */
const MAINTAIN_MS = 500;
/** The player needs a segment this long before it plays it (FetchEngine PLAYER_MARGIN_MS). */
const PLAYER_MARGIN_MS = 300;
/** How far behind the newest entry a node keeps records (the manifest window and KEEP_BEHIND). */
const BEHIND = 20;
/** Manifest blocking reload: an entry reaches viewers this long after its segment is cut (ms). */
const MANIFEST_MS = 30;
const CDN_RTT_MS = 30;
const TRACKER_MS = 40;
/** Catch-up: the player plays 1.15× while more than 1.5 s behind its target (live-sync). */
const CATCH_UP_ABOVE_MS = 1500;
const CATCH_UP_PER_SEGMENT_MS = 1000 - 1000 / 1.15;

interface Member extends PeerInfo {
  node: number;
}

interface SubRoomBook {
  id: string;
  index: number;
  members: Member[];
  /** Node index → position in members. */
  pos: Map<number, number>;
  seeds: SimNode[];
}

export class SwarmSim {
  readonly cfg: SimConfig;
  private readonly q = new EventQueue();
  private readonly rng: RandomSource;
  private readonly trackerRng: RandomSource;
  private readonly rate = new RateControlTable();
  readonly nodes: SimNode[] = [];
  private readonly viewersAlive = new Set<SimNode>();
  private readonly seeds: SimNode[] = [];
  private room: RoomState = EMPTY_ROOM;
  private readonly books = new Map<string, SubRoomBook>();
  private readonly bookList: SubRoomBook[] = [];
  private readonly trackerUrls: string[] = [];
  private readonly pairs = new Map<number, Link>();
  private nextPair = 1;
  private readonly jobs = new Map<number, Job>();
  private readonly jobIds = new WeakMap<Job, number>();
  private nextJob = 1;
  // segment window of every node: (node × WINDOW) slots
  private segSeq = new Int32Array(0);
  private segStatus = new Uint8Array(0);
  private segSource = new Uint8Array(0);
  private segRetryAt = new Float64Array(0);
  private segVerifiedAt = new Float64Array(0);
  private segAttempts = new Uint8Array(0);
  private latestListed = -1;
  private readonly segmentBytes: number;
  private readonly startAt = 4000;
  private readonly endAt: number;
  private warmAt: number;
  private now = 0;
  // steady-window counters
  private winCdn = 0;
  private winP2p = 0;
  private winSeed = 0;
  private winCross = 0;
  private linksFailedNat = 0;
  private sessions = 0;
  /** What the planner decided, counted (diagnostics). */
  readonly counts: Record<string, number> = {};

  private count(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  constructor(cfg: SimConfig) {
    this.cfg = cfg;
    this.rng = seededRandom(cfg.seed);
    this.trackerRng = seededRandom((cfg.seed ^ 0x9e3779b9) >>> 0);
    this.segmentBytes = (cfg.bitrateKbps * 1000) / 8;
    this.endAt = this.startAt + cfg.durationS * 1000;
    const lastInitial = cfg.staggerMs !== undefined ? (cfg.viewers - 1) * cfg.staggerMs : cfg.rampS * 1000;
    this.warmAt = Math.min(this.endAt - 1000, this.startAt + lastInitial + cfg.warmupS * 1000);
  }

  /** Segment sizes: keyframe segments larger (a GOP's I-frame), the mean at the bitrate. */
  private sizeOf(seq: number): number {
    const g = this.cfg.gopSegments;
    if (g <= 1) return Math.round(this.segmentBytes);
    const key = 1.4;
    const other = (g - key) / (g - 1);
    return Math.round(this.segmentBytes * (seq % g === 0 ? key : other));
  }

  private listTime(seq: number): number {
    return (seq + 1) * 1000 + MANIFEST_MS;
  }

  private deadlineOf(v: SimNode, seq: number): number {
    return seq * 1000 + v.targetMs - PLAYER_MARGIN_MS;
  }

  // ---- population ----

  private randomId(): string {
    let s = '';
    for (let i = 0; i < 5; i++)
      s += Math.floor(this.rng() * 0x10000)
        .toString(16)
        .padStart(4, '0');
    return s;
  }

  private newNode(role: PeerRole): SimNode {
    const c = this.cfg;
    const idx = this.nodes.length;
    const r = this.rng;
    const isp = c.loopback ? 0 : pickShare(r, ISP_SHARES);
    const region = c.loopback ? 0 : pickShare(r, REGION_SHARES);
    const nat = role === 'seed' || c.loopback ? Nat.FullCone : sampleNat(r);
    const accessMs = c.loopback ? 0.5 : role === 'seed' ? 2 : 3 + r() * 12;
    const mbps = role === 'seed' ? c.seedUpMbps : (c.fixedUploadMbps ?? sampleUploadMbps(r));
    const useful = role === 'seed' ? mbps : mbps * c.uploadScale * this.rate.share(mbps);
    const node = new SimNode(
      idx,
      this.randomId(),
      role,
      isp,
      region,
      nat,
      accessMs,
      useful * 125,
      Math.max(c.downMbps, mbps) * 125,
      defaultMaxNeighbours(role),
    );
    this.nodes.push(node);
    this.ensureSlots();
    return node;
  }

  private ensureSlots(): void {
    const need = this.nodes.length * WINDOW;
    if (need <= this.segSeq.length) return;
    const cap = Math.max(need, this.segSeq.length * 2, 1024 * WINDOW);
    const grow = <T extends Int32Array | Uint8Array | Float64Array>(
      old: T,
      make: (n: number) => T,
      fill?: number,
    ) => {
      const a = make(cap);
      if (fill !== undefined) a.fill(fill);
      a.set(old);
      return a;
    };
    this.segSeq = grow(this.segSeq, (n) => new Int32Array(n), -1);
    this.segStatus = grow(this.segStatus, (n) => new Uint8Array(n));
    this.segSource = grow(this.segSource, (n) => new Uint8Array(n));
    this.segRetryAt = grow(this.segRetryAt, (n) => new Float64Array(n));
    this.segVerifiedAt = grow(this.segVerifiedAt, (n) => new Float64Array(n), Number.POSITIVE_INFINITY);
    this.segAttempts = grow(this.segAttempts, (n) => new Uint8Array(n));
  }

  /** The slot of (node, seq), reset when it held an older segment. */
  private slot(v: SimNode, seq: number): number {
    const i = v.idx * WINDOW + (seq & WINDOW_MASK);
    if (this.segSeq[i] !== seq) {
      this.segSeq[i] = seq;
      this.segStatus[i] = Status.Missing;
      this.segSource[i] = Source.None;
      this.segRetryAt[i] = 0;
      this.segVerifiedAt[i] = Number.POSITIVE_INFINITY;
      this.segAttempts[i] = 0;
    }
    return i;
  }

  /** When `v` verified `seq` (Infinity: it does not hold it). */
  private heldSince(v: SimNode, seq: number): number {
    const i = v.idx * WINDOW + (seq & WINDOW_MASK);
    return this.segSeq[i] === seq && this.segStatus[i] === Status.Verified
      ? this.segVerifiedAt[i]!
      : Number.POSITIVE_INFINITY;
  }

  // ---- the run ----

  run(): SimResult {
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    const c = this.cfg;
    // The stream runs from t = 0; viewers come once a window of segments exists.
    const firstListed = 0;
    this.q.push(this.listTime(firstListed), Ev.List, firstListed);
    this.q.push(this.startAt, Ev.Maintain);
    for (let i = 0; i < c.viewers; i++) {
      const at =
        c.staggerMs !== undefined
          ? this.startAt + i * c.staggerMs
          : this.startAt + this.rng() * c.rampS * 1000;
      this.scheduleViewer(at);
    }
    let report = this.startAt;
    while (this.q.pop()) {
      const t = this.q.popTime;
      if (t > this.endAt) break;
      if (c.progress && t >= report) {
        const used = process.cpuUsage(cpu0);
        c.progress({
          simS: (t - this.startAt) / 1000,
          viewers: this.viewersAlive.size,
          events: this.q.total,
          cpuS: (used.user + used.system) / 1e6,
        });
        report += 5000;
      }
      this.now = t;
      this.dispatch(this.q.popKind, this.q.popA, this.q.popB);
    }
    this.now = this.endAt;
    const cpu = process.cpuUsage(cpu0);
    return this.result(performance.now() - wall0, (cpu.user + cpu.system) / 1e6);
  }

  private scheduleViewer(at: number): void {
    const v = this.newNode('viewer');
    this.sessions++;
    this.q.push(at, Ev.Arrive, v.idx);
    const c = this.cfg;
    const stay =
      c.watchS !== undefined
        ? c.watchS * 1000
        : Number.isFinite(c.sessionMeanS)
          ? -Math.log(1 - this.rng()) * c.sessionMeanS * 1000
          : Number.POSITIVE_INFINITY;
    if (at + stay < this.endAt) this.q.push(at + stay, Ev.Leave, v.idx);
  }

  readonly eventCounts = new Float64Array(16);

  private dispatch(kind: number, a: number, b: number): void {
    this.eventCounts[kind]!++;
    switch (kind) {
      case Ev.List:
        return this.onList(a);
      case Ev.Pass: {
        const v = this.nodes[a]!;
        if (b !== v.passStamp) return;
        v.passAt = Number.POSITIVE_INFINITY;
        return this.pass(v);
      }
      case Ev.CdnDone:
        return this.onCdnDone(this.nodes[a]!, b);
      case Ev.ReqArrive:
        return this.onRequest(a);
      case Ev.Reject:
        return this.onReject(a, b);
      case Ev.Uplink: {
        const u = this.nodes[a]!;
        if (b !== u.upStamp || !u.alive) return;
        return this.onUplink(u);
      }
      case Ev.Deliver:
        return this.onDeliver(a);
      case Ev.Maintain:
        return this.onMaintain();
      case Ev.Arrive:
        return this.onArrive(this.nodes[a]!);
      case Ev.Leave:
        return this.onLeave(this.nodes[a]!);
      case Ev.Offer:
        return this.onOffer(a);
      case Ev.Open:
        return this.onOpen(a);
      case Ev.Timeout:
        return this.onTimeout(a);
      case Ev.Engine:
        return this.onEngine(this.nodes[a]!);
      case Ev.Find:
        return this.findNeighbours(this.nodes[a]!);
      default:
        throw new Error(`unknown event ${kind}`);
    }
  }

  // ---- the COM, sub-rooms, seeds and trackers ----

  private hintsOf(v: SimNode): { isp?: string; region?: string } {
    return this.cfg.ispAware ? { isp: `isp${v.isp}`, region: `r${v.region}` } : {};
  }

  private joinSubRoom(v: SimNode): void {
    if (this.trackerUrls.length === 0) for (let i = 0; i < 4; i++) this.trackerUrls.push(`ws://tracker${i}`);
    const res = assignSubRoom(this.room, this.hintsOf(v), {
      splitThreshold: this.cfg.subRoomSize,
      trackerUrls: this.trackerUrls,
    });
    this.room = res.state;
    let book = this.books.get(res.subRoom);
    if (!book) {
      book = { id: res.subRoom, index: this.bookList.length, members: [], pos: new Map(), seeds: [] };
      this.books.set(res.subRoom, book);
      this.bookList.push(book);
      for (let i = 0; i < this.cfg.seedsPerSubRoom; i++) {
        const s = this.newNode('seed');
        s.subRoom = book.index;
        this.seeds.push(s);
        book.seeds.push(s);
        this.enter(s, book);
      }
    }
    v.subRoom = book.index;
    const viewers = res.state.subRooms.find((x) => x.id === res.subRoom)?.viewers ?? 1;
    v.targetMs = this.cfg.latencyTargetMs ?? normalModeTargetS(viewers) * 1000;
    this.enter(v, book);
  }

  private enter(v: SimNode, book: SubRoomBook): void {
    v.alive = true;
    v.joinedAt = this.now;
    v.upAt = this.now;
    v.upSince = this.now;
    book.pos.set(v.idx, book.members.length);
    book.members.push({
      peerId: v.id,
      role: v.role,
      ...(this.cfg.ispAware ? { isp: `isp${v.isp}`, region: `r${v.region}` } : {}),
      node: v.idx,
    });
    this.q.push(this.now + TRACKER_MS, Ev.Find, v.idx);
  }

  private bookOf(v: SimNode): SubRoomBook {
    return this.bookList[v.subRoom]!;
  }

  private leaveSubRoom(v: SimNode): void {
    const book = this.bookList[v.subRoom];
    if (!book) return;
    const id = book.id;
    const p = book.pos.get(v.idx);
    if (p !== undefined) {
      const last = book.members.pop()!;
      if (last.node !== v.idx) {
        book.members[p] = last;
        book.pos.set(last.node, p);
      }
      book.pos.delete(v.idx);
    }
    if (v.role !== 'viewer') return;
    // The tracker's occupancy, as the COM reads it, drops by this viewer.
    const h = this.hintsOf(v);
    const dec = (counts: Readonly<Record<string, number>>, key: string | undefined) => {
      if (key === undefined || !Object.hasOwn(counts, key)) return counts;
      return { ...counts, [key]: Math.max(0, counts[key]! - 1) };
    };
    this.room = {
      ...this.room,
      subRooms: this.room.subRooms.map((s) =>
        s.id === id
          ? {
              ...s,
              viewers: Math.max(0, s.viewers - 1),
              isps: dec(s.isps, h.isp),
              regions: dec(s.regions, h.region),
            }
          : s,
      ),
    };
  }

  private onArrive(v: SimNode): void {
    this.joinSubRoom(v);
    this.viewersAlive.add(v);
    this.q.push(this.now + this.cfg.joinDelayMs, Ev.Engine, v.idx);
  }

  private onEngine(v: SimNode): void {
    if (!v.alive) return;
    v.engineAt = this.now;
    // FetchEngine.startSeq: the newest keyframe segment that leaves the target latency of media.
    const latest = this.latestListed;
    const g = this.cfg.gopSegments;
    let start = latest;
    while (start > 0 && ((latest + 1 - start) * 1000 < v.targetMs || start % g !== 0)) start--;
    v.startSeq = start;
    v.wantFrom = start;
    v.playSeq = start;
    this.requestPass(v, this.now);
  }

  private onLeave(v: SimNode): void {
    if (!v.alive) return;
    this.finishPlayback(v, this.now);
    for (const l of [...v.links]) this.closeLink(l);
    this.leaveSubRoom(v);
    v.alive = false;
    v.leftAt = this.now;
    this.viewersAlive.delete(v);
    // A new viewer takes its place: the room stays as large.
    if (Number.isFinite(this.cfg.sessionMeanS) && this.cfg.watchS === undefined)
      this.scheduleViewer(this.now);
  }

  private onList(seq: number): void {
    this.latestListed = seq;
    if (this.listTime(seq + 1) <= this.endAt) this.q.push(this.listTime(seq + 1), Ev.List, seq + 1);
    // Seeds stream each segment from the live edge as it is cut; its entry makes it verified.
    for (const s of this.seeds) if (s.alive) this.verify(s, seq, 'origin', null);
    for (const v of this.viewersAlive) if (v.engineAt <= this.now) this.requestPass(v, this.now);
  }

  // ---- neighbours ----

  private findNeighbours(v: SimNode): void {
    if (!v.alive || v.links.length >= v.maxNeighbours) return;
    const now = this.now;
    const want = v.maxNeighbours - v.links.length;
    const exclude: string[] = [];
    for (const l of v.links) exclude.push(l.remote.id);
    for (const [idx, u] of v.unreachable) {
      if (u.until > now) exclude.push(this.nodes[idx]!.id);
      else if (now - u.until > UNREACHABLE_BACKOFF_MAX_MS) v.unreachable.delete(idx);
    }
    const book = this.bookOf(v);
    const asker = { peerId: v.id, ...this.hintsOf(v) };
    const peers = chooseNeighbours(
      asker,
      book.members,
      Math.min(want, 32),
      exclude.slice(0, 64),
      this.trackerRng,
      this.cfg.neighbourOptions,
    );
    for (const p of peers) {
      if (v.links.length >= v.maxNeighbours) break;
      const r = this.nodes[p.node]!;
      if (r === v || !r.alive || v.linkTo(r.idx)) continue;
      if (r.role === 'seed' && v.role === 'seed') continue;
      this.dial(v, r);
    }
  }

  /** How much slower than alone everything runs now (1 = the machine keeps up). */
  private stretch(): number {
    const m = this.cfg.machine;
    if (!m) return 1;
    let demand = m.baseCores;
    for (const v of this.viewersAlive)
      demand += this.now - v.joinedAt < m.startupS * 1000 ? m.startupCpuS / m.startupS : m.steadyCpuShare;
    return Math.max(1, demand / m.cores);
  }

  private dial(v: SimNode, r: SimNode): void {
    const ow = this.cfg.loopback ? 1 : oneWayMs(v, r);
    const a = new Link(v, r, true, ow, this.now);
    const id = this.nextPair++;
    a.pairId = id;
    this.pairs.set(id, a);
    v.links.push(a);
    this.q.push(this.now + TRACKER_MS, Ev.Offer, id);
    this.q.push(this.now + CONNECT_TIMEOUT_MS, Ev.Timeout, id);
  }

  private onOffer(id: number): void {
    const a = this.pairs.get(id);
    if (!a || a.closed) return;
    const v = a.owner;
    const r = a.remote;
    if (!r.alive) return;
    if ((r.unreachable.get(v.idx)?.until ?? 0) > this.now) return;
    if (r.linkTo(v.idx)) return; // both dialled at once: the other offer wins, this one times out
    if (r.links.length >= r.maxNeighbours + 2) return; // full: the asker tries others
    const b = new Link(r, v, false, a.oneWayMs, this.now);
    b.pairId = id;
    a.other = b;
    b.other = a;
    r.links.push(b);
    const unlinked = this.cfg.unlinked?.some(
      ([x, y]) => (x === v.idx && y === r.idx) || (x === r.idx && y === v.idx),
    );
    if (!unlinked && (this.cfg.loopback || natCompatible(v.nat, r.nat))) {
      const setup = (linkSetupMs(a.oneWayMs, TRACKER_MS) + this.cfg.extraLinkSetupMs) * this.stretch();
      this.q.push(a.createdAt + setup, Ev.Open, id);
    } else {
      this.linksFailedNat++;
    }
  }

  private onOpen(id: number): void {
    const a = this.pairs.get(id);
    if (!a || a.closed || !a.other || a.other.closed) return;
    a.open = true;
    a.other.open = true;
    a.owner.openLinks++;
    a.remote.openLinks++;
    a.owner.firstCopy = null;
    a.remote.firstCopy = null;
    this.requestPass(a.owner, this.now);
    this.requestPass(a.remote, this.now);
  }

  private onTimeout(id: number): void {
    const a = this.pairs.get(id);
    if (!a || a.closed || a.open) return;
    this.closeLink(a);
  }

  /** Closes both sides of a link; transfers over it fail as 'gone'. */
  private closeLink(l: Link): void {
    const now = this.now;
    const sides = l.other ? [l, l.other] : [l];
    for (const s of sides) {
      if (s.closed) continue;
      s.closed = true;
      const owner = s.owner;
      const i = owner.links.indexOf(s);
      if (i >= 0) owner.links.splice(i, 1);
      if (s.open) {
        owner.firstCopy = null;
        owner.openLinks--;
      }
      if (!s.open) {
        // Never connected: back off before trying again (doubling).
        const prev = owner.unreachable.get(s.remote.idx)?.backoffMs ?? UNREACHABLE_BACKOFF_MS / 2;
        owner.unreachable.set(s.remote.idx, {
          until: now + Math.min(prev * 2, UNREACHABLE_BACKOFF_MAX_MS),
          backoffMs: Math.min(prev * 2, UNREACHABLE_BACKOFF_MAX_MS),
        });
      } else if ((owner.unreachable.get(s.remote.idx)?.until ?? 0) <= now) {
        owner.unreachable.delete(s.remote.idx);
      }
    }
    for (const s of sides) {
      const owner = s.owner;
      for (const job of [...owner.downloads.values()]) {
        if (job.downLink !== s) continue;
        this.cancelJob(job, false);
        this.release(owner, job.seq);
        if (owner.alive) this.requestPass(owner, now);
      }
      s.open = false;
    }
    this.pairs.delete(l.pairId);
  }

  private onMaintain(): void {
    const now = this.now;
    if (now + MAINTAIN_MS <= this.endAt) this.q.push(now + MAINTAIN_MS, Ev.Maintain);
    const all: SimNode[] = [...this.seeds, ...this.viewersAlive];
    for (const v of all) {
      if (!v.alive) continue;
      for (const l of failingNeighbours(v.links)) {
        v.unreachable.set(l.remote.idx, { until: now + FAILING_BACKOFF_MS, backoffMs: FAILING_BACKOFF_MS });
        this.closeLink(l);
      }
      if (v.role === 'viewer') {
        const worst = worstNeighbour(v.links, v.maxNeighbours);
        if (worst) this.closeLink(worst as Link);
      }
      if (v.links.length < v.maxNeighbours) this.findNeighbours(v);
    }
  }

  // ---- the engine ----

  private requestPass(v: SimNode, at: number): void {
    if (!v.alive || v.role !== 'viewer') return;
    const t = Math.max(at, v.lastPassAt + MIN_PASS_GAP_MS);
    if (v.passAt <= t) return;
    v.passAt = t;
    v.passStamp = (v.passStamp + 1) | 0;
    this.q.push(t, Ev.Pass, v.idx, v.passStamp);
  }

  private firstCopyMembers(v: SimNode): string[] {
    if (v.firstCopy) return v.firstCopy;
    const members = [v.id];
    for (const l of v.links) {
      if (!l.open) continue;
      if (l.remote.role === 'seed') {
        v.firstCopy = [];
        return v.firstCopy;
      }
      members.push(l.remote.id);
    }
    v.firstCopy = members.sort();
    return v.firstCopy;
  }

  private holders(v: SimNode, seq: number, out: Link[] | null): number {
    let n = 0;
    for (const l of v.links) {
      if (!l.open || !l.remote.alive) continue;
      if (this.heldSince(l.remote, seq) + l.oneWayMs <= this.now) {
        n++;
        out?.push(l);
      }
    }
    return n;
  }

  /** Bytes of a transfer received so far and when the last came, as PeerNode.transfer reports. */
  private progress(job: Job): { received: number; startedAt: number; lastDataAt: number } {
    if (job.state !== 'queued')
      return { received: job.sent, startedAt: job.startedAt, lastDataAt: job.lastDataAt };
    const u = job.up;
    const serving = this.serving(u);
    const head = job.upLink.jobs[0] === job && serving.includes(job.upLink);
    const extra = head ? ((this.now - u.upAt) * u.upRate) / serving.length : 0;
    return {
      received: Math.min(job.size, job.sent + extra),
      startedAt: job.startedAt,
      lastDataAt: head ? this.now : job.lastDataAt,
    };
  }

  private pass(v: SimNode): void {
    if (!v.alive || v.engineAt > this.now) return;
    const now = this.now;
    v.lastPassAt = now;
    const latest = this.latestListed;
    if (v.wantFrom < latest - BEHIND) v.wantFrom = latest - BEHIND;
    const usePeers = v.openLinks > 0;
    const members = usePeers ? this.firstCopyMembers(v) : [];
    const limits = limitsForCdnTime(DEFAULT_LIMITS, v.cdnFetchMs);
    const margin = limits.cdnMarginMs;
    const segments: PlanSegment[] = [];
    let skipping = true;
    for (let seq = v.wantFrom; seq <= latest; seq++) {
      const i = this.slot(v, seq);
      const st = this.segStatus[i]!;
      if (st === Status.Verified) {
        if (skipping) v.wantFrom = seq + 1;
        continue;
      }
      skipping = false;
      const src = this.segSource[i]!;
      const job = src === Source.Peer ? v.downloads.get(seq) : undefined;
      segments.push({
        seq,
        deadline: this.deadlineOf(v, seq),
        size: this.sizeOf(seq),
        status: st === Status.Fetching ? 'fetching' : 'missing',
        source: src === Source.Cdn || src === Source.CdnEdge ? 'cdn' : src === Source.Peer ? 'peer' : null,
        holders: usePeers ? this.holders(v, seq, null) : 0,
        firstCopyRank: firstCopyRank(seq, members, v.id),
        listedAt: this.listTime(seq),
        retryAt: this.segRetryAt[i]!,
        transfer: job ? this.progress(job) : undefined,
      });
    }
    const actions = plan({
      now,
      usePeers,
      overDownloadCap: false,
      segments,
      firstCopyRoom: members.length,
      liveEdge: usePeers ? null : this.liveEdgeWanted(v),
      limits,
    });
    for (const a of actions) {
      switch (a.type) {
        case 'cdn':
          this.count(
            now >= this.deadlineOf(v, a.seq) - margin || !usePeers ? 'cdn_urgent' : 'cdn_first_copy',
          );
          this.startCdn(v, a.seq, false);
          break;
        case 'live-edge':
          this.count('cdn_live_edge');
          this.startCdn(v, a.seq, true);
          break;
        case 'peer':
          this.startPeer(v, a.seq);
          break;
        case 'cancel-peer': {
          this.count(`cancel_${a.why}_${a.next}`);
          const job = v.downloads.get(a.seq);
          if (job) this.cancelJob(job, true);
          this.release(v, a.seq);
          if (a.next === 'cdn') this.startCdn(v, a.seq, false);
          else if (a.next === 'peer') this.startPeer(v, a.seq);
          break;
        }
      }
    }
    const wake = this.nextWake(v, limits, usePeers ? members : []);
    if (wake < Number.POSITIVE_INFINITY) {
      // The engine's periodic timer: the first tick at or after the time something is due.
      const phase = (v.idx * 61) % TICK_MS;
      this.requestPass(v, phase + Math.ceil((wake - phase) / TICK_MS) * TICK_MS);
    }
  }

  /**
   * The earliest time a pass could decide something new without any event (a deadline coming
   * within the CDN margin, the first-copy wait ending, a retry, a transfer going silent or over
   * its budget; every tick while an urgent transfer may turn out too slow or holders could be
   * asked again). Between two such times the engine's periodic passes change nothing, so the
   * simulator skips them, as the engine does (planner.ts nextDueAt, over the engine's snapshot;
   * this reads the simulator's own arrays).
   */
  private nextWake(v: SimNode, L: PlanLimits, members: readonly string[]): number {
    const now = this.now;
    let wake = Number.POSITIVE_INFINITY;
    for (let seq = v.wantFrom; seq <= this.latestListed; seq++) {
      const i = this.slot(v, seq);
      const st = this.segStatus[i]!;
      if (st === Status.Verified) continue;
      const src = this.segSource[i]!;
      if (src === Source.Cdn || src === Source.CdnEdge) continue;
      const urgentAt = this.deadlineOf(v, seq) - L.cdnMarginMs;
      if (src === Source.Peer) {
        const job = v.downloads.get(seq);
        if (!job) continue;
        if (now >= urgentAt) return now + 1;
        const p = this.progress(job);
        wake = Math.min(wake, urgentAt, p.startedAt + L.peerBudgetMs + 1);
        if (now < p.startedAt + L.peerJudgeMs) wake = Math.min(wake, p.startedAt + L.peerJudgeMs + 1);
        if (p.lastDataAt < now) wake = Math.min(wake, p.lastDataAt + L.peerSilenceMs + 1);
        continue;
      }
      if (now >= urgentAt) return now + 1; // waiting for a CDN slot
      wake = Math.min(wake, urgentAt);
      if (this.segRetryAt[i]! > now) wake = Math.min(wake, this.segRetryAt[i]!);
      if (members.length > 0 && this.holders(v, seq, null) > 0) return now + 1; // a holder to ask again
      const at = firstCopyDueAt(firstCopyRank(seq, members, v.id), this.listTime(seq), members.length, L);
      if (at !== null && at > now) wake = Math.min(wake, at);
    }
    return wake;
  }

  /** FetchEngine.liveEdgeWanted: the segment being cut, unless it is streaming already. */
  private liveEdgeWanted(v: SimNode): number | null {
    const edge = Math.max(this.latestListed, v.edgeDone) + 1;
    for (let s = edge - 1; s <= edge; s++) {
      const i = v.idx * WINDOW + (s & WINDOW_MASK);
      if (this.segSeq[i] === s && this.segSource[i] === Source.CdnEdge) return null;
    }
    const i = v.idx * WINDOW + (edge & WINDOW_MASK);
    if (this.segSeq[i] === edge && (this.segStatus[i] !== Status.Missing || this.now < this.segRetryAt[i]!))
      return null;
    return edge;
  }

  private startCdn(v: SimNode, seq: number, liveEdge: boolean): void {
    const i = this.slot(v, seq);
    if (this.segSource[i] !== Source.None || this.segStatus[i] === Status.Verified) return;
    this.segStatus[i] = Status.Fetching;
    this.segSource[i] = liveEdge ? Source.CdnEdge : Source.Cdn;
    v.cdnStartedAt[seq & WINDOW_MASK] = this.now;
    const took = cdnFetchMs(this.sizeOf(seq), v.downBytesPerMs, CDN_RTT_MS) * this.stretch();
    // The live edge streams while the origin cuts the segment; it completes with the cut.
    const at = liveEdge ? Math.max(this.now + took, this.listTime(seq)) : this.now + took;
    this.q.push(at, Ev.CdnDone, v.idx, seq);
  }

  private onCdnDone(v: SimNode, seq: number): void {
    if (!v.alive) return;
    const i = this.slot(v, seq);
    const src = this.segSource[i]!;
    if (src !== Source.Cdn && src !== Source.CdnEdge) return;
    if (src === Source.CdnEdge) v.edgeDone = Math.max(v.edgeDone, seq);
    else v.cdnFetchMs = smoothCdnFetchMs(v.cdnFetchMs, this.now - v.cdnStartedAt[seq & WINDOW_MASK]!);
    this.segSource[i] = Source.None;
    this.verify(v, seq, 'cdn', null);
  }

  /** PeerNode.fetch: the best holder by the neighbour policy is asked. */
  private startPeer(v: SimNode, seq: number): void {
    const i = this.slot(v, seq);
    if (this.segSource[i] !== Source.None || this.segStatus[i] === Status.Verified) return;
    const candidates: Link[] = [];
    this.holders(v, seq, candidates);
    const pick = chooseNeighbour(
      this.now,
      candidates,
      MAX_INFLIGHT_PER_PEER,
      this.deadlineOf(v, seq) - this.now,
    ) as Link | null;
    if (!pick) {
      this.count('peer_no_pick');
      return;
    }
    this.count('peer_request');
    pick.inflight++;
    const job: Job = {
      seq,
      size: this.sizeOf(seq),
      down: v,
      up: pick.remote,
      upLink: pick.other,
      downLink: pick,
      deadlineMs: Math.max(0, Math.round(this.deadlineOf(v, seq) - this.now)),
      deadline: 0,
      startedAt: this.now,
      sent: 0,
      lastDataAt: this.now,
      state: 'requested',
    };
    const id = this.nextJob++;
    this.jobs.set(id, job);
    this.jobIds.set(job, id);
    v.downloads.set(seq, job);
    this.segStatus[i] = Status.Fetching;
    this.segSource[i] = Source.Peer;
    this.q.push(this.now + pick.oneWayMs, Ev.ReqArrive, id);
  }

  /** The record has no fetch in flight any more. */
  private release(v: SimNode, seq: number): void {
    const i = this.slot(v, seq);
    if (this.segStatus[i] === Status.Verified) return;
    this.segSource[i] = Source.None;
    this.segStatus[i] = Status.Missing;
  }

  /** Ends a download on the downloader's side (PeerNode.endDownload) and stops it at the uploader. */
  private cancelJob(job: Job, penalise: boolean): void {
    const v = job.down;
    if (v.downloads.get(job.seq) === job) v.downloads.delete(job.seq);
    job.downLink.inflight = Math.max(0, job.downLink.inflight - 1);
    if (penalise) job.downLink.failures++;
    if (job.state === 'queued') {
      const u = job.up;
      this.advance(u);
      const q = job.upLink.jobs;
      const k = q.indexOf(job);
      if (k >= 0) q.splice(k, 1);
      if (q.length === 0) this.dropBusy(u, job.upLink);
      this.reschedule(u);
      v.bytesPeerWire += job.sent;
    } else if (job.state === 'done') {
      v.bytesPeerWire += job.size; // on its way: the bytes left the uplink
    }
    job.state = 'cancelled';
    this.forget(job);
  }

  private forget(job: Job): void {
    const id = this.jobIds.get(job);
    if (id !== undefined) this.jobs.delete(id);
  }

  /** A request reaches the uploader: the Uploader's admission decides. */
  private onRequest(id: number): void {
    const job = this.jobs.get(id);
    if (job?.state !== 'requested') return;
    const u = job.up;
    if (!u.alive || job.upLink.closed) return;
    const have = this.heldSince(u, job.seq) <= this.now;
    const copiesGiven = u.copies.get(job.seq) ?? 0;
    const verdict = admitRequest({
      role: u.role,
      have,
      jobsOnLink: job.upLink.jobs.length,
      copiesGiven,
      copiesPerSegment: this.cfg.seedCopies,
    });
    if (verdict === 'accept' && this.cfg.admission === 'in-time' && !this.inTime(job)) {
      this.count('reject_late');
      this.q.push(this.now + job.upLink.oneWayMs, Ev.Reject, id, RejectReason.Busy);
      return;
    }
    if (verdict !== 'accept') {
      this.count(`reject_${verdict}`);
      this.q.push(this.now + job.upLink.oneWayMs, Ev.Reject, id, verdict);
      return;
    }
    if (u.role === 'seed') {
      u.copies.set(job.seq, copiesGiven + 1);
      if (u.copies.size > 256) u.copies.delete(u.copies.keys().next().value!);
    }
    this.advance(u);
    job.deadline = jobDeadline(this.now, job.deadlineMs);
    job.state = 'queued';
    const q = job.upLink.jobs;
    // Sorted by deadline, equal deadlines in arrival order (the Uploader's stable sort).
    let k = q.length;
    while (k > 0 && q[k - 1]!.deadline > job.deadline) k--;
    q.splice(k, 0, job);
    if (q.length === 1) u.busy.push(job.upLink);
    this.reschedule(u);
  }

  /** Whether `job` would finish before its deadline at the share of the uplink it would get. */
  private inTime(job: Job): boolean {
    const u = job.up;
    let ahead = job.size;
    const key = jobDeadline(this.now, job.deadlineMs);
    for (const j of job.upLink.jobs) if (j.deadline <= key) ahead += j.size - j.sent;
    return servableInTime({
      now: this.now,
      deadline: job.startedAt + job.deadlineMs,
      bytesAhead: ahead,
      sharingLinks: u.busy.length + (job.upLink.jobs.length === 0 ? 1 : 0),
      rateBytesPerMs: this.cfg.machine ? u.upBytesPerMs / this.stretch() : u.upBytesPerMs,
      oneWayMs: job.upLink.oneWayMs,
    });
  }

  private onReject(id: number, reason: number): void {
    const job = this.jobs.get(id);
    if (job?.state !== 'requested') return;
    const v = job.down;
    const notHave = reason === RejectReason.NotHave;
    job.downLink.backoffUntil = this.now + (notHave ? 0 : 400);
    this.cancelJob(job, reason !== RejectReason.OverCap);
    this.release(v, job.seq);
    this.requestPass(v, this.now);
  }

  // ---- the fluid uplink ----

  private dropBusy(u: SimNode, l: Link): void {
    const k = u.busy.indexOf(l);
    if (k >= 0) u.busy.splice(k, 1);
  }

  /** Sends what the uplink carried since it was last looked at: an equal share per busy link,
   * each link's share to its first job in the upload order. */
  private advance(u: SimNode): void {
    const dt = this.now - u.upAt;
    u.upAt = this.now;
    if (dt <= 0 || u.busy.length === 0) return;
    const serving = this.serving(u);
    const each = (dt * u.upRate) / serving.length;
    for (const l of serving) {
      const job = this.head(l);
      const add = Math.min(each, job.size - job.sent);
      job.sent += add;
      job.lastDataAt = this.now;
      u.bytesUp += add;
      if (this.now > this.warmAt) u.winUp += add * Math.min(1, (this.now - this.warmAt) / dt);
    }
  }

  /** The job a link sends now: its queue is kept in the upload order (uploadsBefore). */
  private head(l: Link): Job {
    let best = l.jobs[0]!;
    for (let k = 1; k < l.jobs.length; k++) {
      const j = l.jobs[k]!;
      if (
        uploadsBefore(
          { leech: false, deadline: j.deadline, lastServedAt: 0 },
          { leech: false, deadline: best.deadline, lastServedAt: 0 },
        )
      )
        best = j;
    }
    return best;
  }

  /** The links an uplink sends on now. */
  private serving(u: SimNode): Link[] {
    if (this.cfg.uplinkSharing === 'links' || u.busy.length <= 1) return u.busy;
    let best = u.busy[0]!;
    let bestJob = this.head(best);
    for (let k = 1; k < u.busy.length; k++) {
      const l = u.busy[k]!;
      const j = this.head(l);
      if (
        uploadsBefore(
          { leech: false, deadline: j.deadline, lastServedAt: j.startedAt },
          { leech: false, deadline: bestJob.deadline, lastServedAt: bestJob.startedAt },
        )
      ) {
        best = l;
        bestJob = j;
      }
    }
    return [best];
  }

  private reschedule(u: SimNode): void {
    u.upStamp = (u.upStamp + 1) | 0;
    if (u.busy.length === 0) return;
    u.upRate = this.cfg.machine ? u.upBytesPerMs / this.stretch() : u.upBytesPerMs;
    const serving = this.serving(u);
    const rate = u.upRate / serving.length;
    let next = Number.POSITIVE_INFINITY;
    for (const l of serving) {
      const job = this.head(l);
      next = Math.min(next, (job.size - job.sent) / rate);
    }
    this.q.push(this.now + Math.max(0, next), Ev.Uplink, u.idx, u.upStamp);
  }

  private onUplink(u: SimNode): void {
    this.advance(u);
    for (const l of [...u.busy]) {
      for (;;) {
        if (l.jobs.length === 0) break;
        const job = this.head(l);
        if (job.size - job.sent > 1e-6) break;
        job.sent = job.size;
        l.jobs.splice(l.jobs.indexOf(job), 1);
        job.state = 'done';
        this.q.push(this.now + l.oneWayMs, Ev.Deliver, this.jobIds.get(job)!);
      }
      if (l.jobs.length === 0) this.dropBusy(u, l);
    }
    this.reschedule(u);
  }

  private onDeliver(id: number): void {
    const job = this.jobs.get(id);
    if (job?.state !== 'done') return;
    this.forget(job);
    const v = job.down;
    v.bytesPeerWire += job.size;
    if (v.downloads.get(job.seq) === job) v.downloads.delete(job.seq);
    job.downLink.inflight = Math.max(0, job.downLink.inflight - 1);
    job.state = 'cancelled';
    if (!v.alive) return;
    const l = job.downLink;
    const rate = job.size / Math.max(1, this.now - job.startedAt);
    l.bytesPerMs = l.bytesPerMs === null ? rate : l.bytesPerMs * 0.7 + rate * 0.3;
    l.successes++;
    this.verify(v, job.seq, job.up.role === 'seed' ? 'seed' : 'p2p', job.up);
  }

  // ---- verified segments, announcements, playback ----

  private verify(v: SimNode, seq: number, from: 'cdn' | 'p2p' | 'seed' | 'origin', up: SimNode | null): void {
    const i = this.slot(v, seq);
    if (this.segStatus[i] === Status.Verified) return;
    this.segStatus[i] = Status.Verified;
    this.segSource[i] = Source.None;
    this.segVerifiedAt[i] = this.now;
    const size = this.sizeOf(seq);
    const inWindow = this.now >= this.warmAt;
    if (from === 'cdn') {
      v.bytesCdn += size;
      if (inWindow) this.winCdn += size;
    } else if (from === 'p2p') {
      v.bytesP2p += size;
      const cross = up !== null && up.isp !== v.isp;
      if (cross) v.bytesCrossIsp += size;
      if (inWindow) {
        this.winP2p += size;
        if (cross) this.winCross += size;
      }
    } else if (from === 'seed') {
      v.bytesSeed += size;
      if (inWindow) this.winSeed += size;
    }
    // Have: each neighbour that lacks it hears of it one link delay later.
    for (const l of v.links) {
      if (!l.open) continue;
      const r = l.remote;
      // A neighbour fetching it already has nothing new to decide about it (its other
      // segments' times are in its timer); one that lacks it may ask us.
      if (r.role !== 'viewer' || !r.alive || r.engineAt > this.now) continue;
      const j = r.idx * WINDOW + (seq & WINDOW_MASK);
      if (this.segSeq[j] === seq && this.segStatus[j] !== Status.Missing) continue;
      this.requestPass(r, this.now + l.oneWayMs);
    }
    if (v.role === 'viewer') {
      this.requestPass(v, this.now);
      this.play(v);
    }
  }

  /** The player: segments in order, each at its time behind live; late ones stall it. */
  private play(v: SimNode): void {
    if (v.playSeq < 0) return;
    for (;;) {
      const ready = this.heldSince(v, v.playSeq);
      if (ready === Number.POSITIVE_INFINITY) return;
      const due = v.playSeq * 1000 + v.targetMs;
      if (Number.isNaN(v.playStartAt)) {
        v.playStartAt = ready;
        v.lagMs = ready - due;
      } else {
        const at = due + v.lagMs;
        if (ready > at) {
          v.stallMs += ready - at;
          v.lagMs += ready - at;
        }
      }
      if (v.lagMs > CATCH_UP_ABOVE_MS) v.catchingUp = true;
      if (v.catchingUp) {
        v.lagMs = Math.max(0, v.lagMs - CATCH_UP_PER_SEGMENT_MS);
        if (v.lagMs === 0) v.catchingUp = false;
      }
      v.playSeq++;
    }
  }

  /** At the end (or when leaving): the segment the player waits for counts as stalled until then. */
  private finishPlayback(v: SimNode, at: number): void {
    if (v.playSeq < 0 || Number.isNaN(v.playStartAt) || v.finished) return;
    v.finished = true;
    const due = v.playSeq * 1000 + v.targetMs + v.lagMs;
    if (due < at) v.stallMs += at - due;
    v.watchMs = Math.max(0, at - v.playStartAt);
  }

  // ---- results ----

  private result(wallMs: number, cpuS: number): SimResult {
    const viewers = this.nodes.filter((n) => n.role === 'viewer');
    for (const v of viewers) if (v.alive) this.finishPlayback(v, this.endAt);
    // Transfers still under way at the end: what left the uplinks has reached the other ends.
    for (const n of this.nodes) if (n.alive) this.advance(n);
    for (const job of this.jobs.values()) {
      if (job.state === 'queued') job.down.bytesPeerWire += job.sent;
      else if (job.state === 'done') job.down.bytesPeerWire += job.size;
    }
    let cdn = 0;
    let p2p = 0;
    let seed = 0;
    let up = 0;
    let wire = 0;
    let stall = 0;
    let watch = 0;
    let capacity = 0;
    let maxUse = 0;
    let busySum = 0;
    let busyN = 0;
    const startups: number[] = [];
    for (const n of this.nodes) {
      up += n.bytesUp;
      wire += n.bytesPeerWire;
      const online = Math.min(n.leftAt, this.endAt) - n.upSince;
      if (n.upSince > 0 && online > 0) maxUse = Math.max(maxUse, n.bytesUp / (n.upBytesPerMs * online));
    }
    for (const v of viewers) {
      cdn += v.bytesCdn;
      p2p += v.bytesP2p;
      seed += v.bytesSeed;
      stall += v.stallMs;
      watch += v.watchMs;
      if (!Number.isNaN(v.playStartAt)) startups.push(v.playStartAt - v.joinedAt);
      if (v.joinedAt <= this.warmAt && v.leftAt >= this.endAt && v.alive) {
        capacity += v.upBytesPerMs;
        busySum += v.winUp / (v.upBytesPerMs * (this.endAt - this.warmAt));
        busyN++;
      }
    }
    startups.sort((a, b) => a - b);
    const winAll = this.winCdn + this.winP2p + this.winSeed;
    const demand = (this.segmentBytes / 1000) * busyN;
    return {
      viewers: this.cfg.viewers,
      sessions: this.sessions,
      subRooms: this.books.size,
      seeds: this.seeds.length,
      p2pShare: winAll > 0 ? this.winP2p / winAll : 0,
      p2pShareAll: cdn + p2p + seed > 0 ? p2p / (cdn + p2p + seed) : 0,
      seedShareAll: cdn + p2p + seed > 0 ? seed / (cdn + p2p + seed) : 0,
      stallRatio: watch > 0 ? stall / watch : 0,
      crossIspShare: this.winP2p > 0 ? this.winCross / this.winP2p : 0,
      startupMsMedian: startups.length ? startups[Math.floor(startups.length / 2)]! : Number.NaN,
      bytesCdn: cdn,
      bytesP2p: p2p,
      bytesSeed: seed,
      bytesUploaded: up,
      bytesPeerWire: wire,
      maxUplinkUse: maxUse,
      uploadToDemand: demand > 0 ? capacity / demand : 0,
      meanUplinkBusy: busyN > 0 ? busySum / busyN : 0,
      linksFailedNat: this.linksFailedNat,
      counts: { ...this.counts },
      events: this.q.total,
      wallS: wallMs / 1000,
      cpuS,
    };
  }
}

export function runSim(cfg: Partial<SimConfig> = {}): SimResult {
  return new SwarmSim({ ...DEFAULT_CONFIG, ...cfg }).run();
}
