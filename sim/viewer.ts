/**
 * The simulator's per-node state: a node (viewer or seed) with its links, the transfers it
 * runs and serves, and its segment window in compact typed arrays shared by all nodes.
 */
import type { PeerRole } from '../common/tracker-protocol';
import type { NeighbourView } from '../main/p2p/neighbour-policy';

/** Segment slots per node (a ring indexed by seq): more than the live window any node tracks. */
export const WINDOW = 32;
export const WINDOW_MASK = WINDOW - 1;

export enum Status {
  Missing = 0,
  Fetching = 1,
  Verified = 2,
}

export enum Source {
  None = 0,
  Cdn = 1,
  Peer = 2,
  /** Streaming the segment being cut from the CDN's live edge. */
  CdnEdge = 3,
}

/** A peer transfer: requested by `down` from `up` over a link, served by up's fluid uplink. */
export interface Job {
  seq: number;
  size: number;
  down: SimNode;
  up: SimNode;
  /** The uploader's side of the link (its queue holds the job). */
  upLink: Link;
  /** The downloader's side (its view of the uploader). */
  downLink: Link;
  /** Requested deadline, ms from the request (the wire's deadlineMs). */
  deadlineMs: number;
  /** Queue position key at the uploader (jobDeadline). */
  deadline: number;
  startedAt: number;
  /** Bytes sent so far (fluid), as of the uploader's `upAt`. */
  sent: number;
  lastDataAt: number;
  state: 'requested' | 'queued' | 'done' | 'cancelled';
}

/** One side of a link: the owner's view of the remote node (the neighbour policy's view). */
export class Link implements NeighbourView {
  inflight = 0;
  bytesPerMs: number | null = null;
  successes = 0;
  failures = 0;
  backoffUntil = 0;
  /** Hello seen: the link is open and counts as a neighbour. */
  open = false;
  /** Jobs the owner serves to the remote over this link, by deadline. */
  jobs: Job[] = [];
  /** The remote's side (set once the remote took the offer). */
  other!: Link;
  closed = false;
  pairId = 0;
  constructor(
    readonly owner: SimNode,
    readonly remote: SimNode,
    readonly initiator: boolean,
    readonly oneWayMs: number,
    readonly createdAt: number,
  ) {}
  get id(): string {
    return this.remote.id;
  }
  get role(): PeerRole {
    return this.remote.role;
  }
}

export class SimNode {
  links: Link[] = [];
  /** Node index → back-off end and length for nodes we could not connect to. */
  unreachable = new Map<number, { until: number; backoffMs: number }>();
  /** Downloads in flight, by seq. */
  downloads = new Map<number, Job>();
  alive = false;
  joinedAt = 0;
  leftAt = Number.POSITIVE_INFINITY;
  /** The engine has the manifest: it plans from here. */
  engineAt = Number.POSITIVE_INFINITY;
  wantFrom = -1;
  startSeq = -1;
  /** Last live-edge segment streamed (FetchEngine's table.edgeDone). */
  edgeDone = -1;
  cdnFetchMs = 0;
  /** When each slot's CDN fetch started. */
  readonly cdnStartedAt = new Float64Array(WINDOW);
  cdnInflight = 0;
  /** Sorted ids of the first-copy room (null = recompute). */
  firstCopy: string[] | null = null;
  // pass scheduling
  passAt = Number.POSITIVE_INFINITY;
  lastPassAt = Number.NEGATIVE_INFINITY;
  passStamp = 0;
  // the fluid uplink
  busy: Link[] = [];
  /** The rate the uplink sends at since `upAt` (bytes/ms). */
  upRate = 0;
  upAt = 0;
  upStamp = 0;
  /** A seed's copies handed out, by seq. */
  copies = new Map<number, number>();
  // playback
  playSeq = -1;
  playStartAt = Number.NaN;
  lagMs = 0;
  catchingUp = false;
  stallMs = 0;
  watchMs = 0;
  finished = false;
  // counters
  bytesCdn = 0;
  bytesP2p = 0;
  bytesSeed = 0;
  /** Every byte received from peers, whole segments and cancelled parts (conservation). */
  bytesPeerWire = 0;
  bytesUp = 0;
  /** Bytes uploaded in the steady window. */
  winUp = 0;
  /** Bytes from other-ISP viewers. */
  bytesCrossIsp = 0;
  /** When the node's uplink counters started (for the capacity check). */
  upSince = 0;
  subRoom = -1;
  /** Normal-mode latency target (ms), set when the COM places it. */
  targetMs = 4000;
  finding = false;
  constructor(
    readonly idx: number,
    readonly id: string,
    readonly role: PeerRole,
    readonly isp: number,
    readonly region: number,
    readonly nat: number,
    readonly accessMs: number,
    /** Uplink the rate control uses (bytes/ms). */
    readonly upBytesPerMs: number,
    readonly downBytesPerMs: number,
    readonly maxNeighbours: number,
  ) {}

  linkTo(remote: number): Link | undefined {
    for (const l of this.links) if (l.remote.idx === remote) return l;
    return undefined;
  }

  /** Open links (PeerNode.peerCount). */
  openLinks = 0;
}
