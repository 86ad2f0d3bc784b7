/**
 * Serving neighbours, with transmission control. Requests for verified segments are queued
 * per link; one loop decides what leaves next across all links: the most urgent deadline
 * first (it may take the whole window while its acks flow), neighbours that never give
 * anything back last, and round-robin among equals. A chunk leaves only when (1) the user's
 * upload budget has tokens (one cap for all links), (2) the node's LEDBAT window has room (all
 * links share one uplink, so one window for all, fed by each link's own queueing-delay
 * estimate) and its pacing allows it, and (3) the data-channel queue is below its low-water
 * mark — so the rate controller, not SCTP's queue, decides what goes out. A seed hands each
 * segment to a bounded number of viewers.
 */
import { TokenBucket } from '../../common/token-bucket';
import type { PeerRole } from '../../common/tracker-protocol';
import { DelayTracker, Ledbat } from './ledbat';
import { loopLagMs } from './loop-lag';
import { LOW_WATER_BYTES, type PeerLink } from './peer-link';
import { RateMeter } from './rate';
import { admitRequest, CHUNK_BYTES, chunkBytes, jobDeadline, uploadsBefore } from './upload-policy';
import { MsgType, RejectReason, type WireMessage } from './wire';

export { CHUNK_BYTES };

/** A request with no acknowledgement for this long counts as a loss for the window. */
const ACK_TIMEOUT_MS = 1500;

interface Job {
  reqId: number;
  seq: number;
  offset: number;
  /** The segment's bytes, lent by its owner: they read as empty once it freed them (check before use). */
  bytes: Uint8Array;
  /** The segment's size when the job was taken on. */
  total: number;
  deadline: number;
  sent: number;
  acked: number;
  /**
   * Since when the job has waited for an acknowledgement: its latest ack, or the send that put
   * its bytes in flight when none were. Not the time it was queued: under congestion a job waits
   * in the queue for seconds, and counted from then its first chunks were taken for lost as soon
   * as they left and forgiven from the flight, which let another window onto the queue.
   */
  lastAckAt: number;
  /** Send times (ms) of this job's first and latest chunks: an ack must echo a time between. */
  firstSentAt: number | null;
  lastSentAt: number;
}

interface LinkState {
  link: PeerLink;
  jobs: Job[];
  delay: DelayTracker;
  /** When this link last gave a valid delay sample. */
  sampledAt: number;
  lastServedAt: number;
  /** Acks that acknowledged nothing we sent or echoed a time we never sent. */
  badAcks: number;
}

/** A link whose last valid ack is older than this holds no more than an equal share of the window (ms). */
const ACKS_FLOWING_MS = 500;
/** A link whose delay samples are older than this takes no part in the shared estimate (ms). */
const SAMPLE_FRESH_MS = 3000;
/**
 * Forged acks (bytes never sent, or a send time the job never had) tolerated from one link
 * before it is reported as abusive. An honest receiver cannot produce either, whatever the
 * network does (a late or repeated ack is stale, not forged, and only ignored), so a handful is
 * proof enough; the first few are allowed for clock wrap-around edge cases.
 */
const MAX_FORGED_ACKS = 4;

export interface UploaderOptions {
  role: PeerRole;
  copiesPerSegment: number;
  bytesOf: (seq: number) => Uint8Array | null;
  now: () => number;
  /** Upload cap for all links together (bytes/ms), null = automatic (the rate control decides). */
  capBytesPerMs?: number | null;
  /** Delay-based rate control and pacing; off only for comparison benchmarks. */
  rateControl?: boolean;
  /** Neighbours that take without giving are served after everyone else. */
  isLeech?: (link: PeerLink) => boolean;
  onSent?: (link: PeerLink, bytes: number) => void;
  /** A neighbour broke the protocol in a way only a liar does (forged acks). */
  onAbuse?: (link: PeerLink, why: string) => void;
}

/** Whether a 32-bit echoed send time lies between two send times we used (ms). */
function echoedBetween(echo: number, first: number, last: number): boolean {
  return (echo - (first >>> 0)) >>> 0 <= ((last >>> 0) - (first >>> 0)) >>> 0;
}

export class Uploader {
  private readonly links = new Map<PeerLink, LinkState>();
  private readonly copies = new Map<number, number>();
  private readonly budget: TokenBucket;
  private readonly rateControl: boolean;
  /** One window and one pace for the whole uplink. */
  private readonly ledbat = new Ledbat({ mss: CHUNK_BYTES });
  private readonly pace: TokenBucket;
  /** Bytes sent and not yet acknowledged, retiring ones (below) included. */
  private flight = 0;
  /**
   * Bytes of jobs that ended unacknowledged (cancelled, withdrawn, their link gone), counted in
   * the flight until they have drained from the path: they are still in the bottleneck's queue
   * (or in the data channel's send buffer), and the receiver no longer acknowledges them.
   * Forgiven at once instead, every transfer a neighbour gave up on (as they do when the uplink
   * is congested) let a window's worth more onto the queue (bench:tcp-friendly, the same hour:
   * TCP beside an uploading viewer kept 86.6 % before, 89.4 and 91.2 % with this).
   */
  private retiring: Array<{ bytes: number; at: number }> = [];
  /** When any link last sent a valid acknowledgement. */
  private lastValidAckAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires (on the injected clock). */
  private timerAt = 0;
  private pumping = false;
  readonly meter = new RateMeter(3000);
  bytesSent = 0;

  constructor(private readonly opts: UploaderOptions) {
    this.rateControl = opts.rateControl ?? true;
    this.budget = new TokenBucket(opts.capBytesPerMs ?? null, 2 * CHUNK_BYTES, opts.now());
    this.pace = new TokenBucket(null, 2 * CHUNK_BYTES, opts.now());
  }

  get capBytesPerMs(): number | null {
    return this.budget.rate;
  }

  /** Applies a new cap at once (settings change live). */
  setCap(bytesPerMs: number | null): void {
    this.budget.setRate(bytesPerMs, this.opts.now());
    this.pump();
  }

  private state(link: PeerLink): LinkState {
    let s = this.links.get(link);
    if (!s) {
      s = {
        link,
        jobs: [],
        delay: new DelayTracker(),
        sampledAt: Number.NEGATIVE_INFINITY,
        lastServedAt: 0,
        badAcks: 0,
      };
      this.links.set(link, s);
    }
    return s;
  }

  request(link: PeerLink, msg: Extract<WireMessage, { type: MsgType.Request }>): void {
    const bytes = this.opts.bytesOf(msg.seq);
    const have = bytes !== null && msg.offset < bytes.length;
    // The state is made only for a request that gets past "not held", as before.
    const s = have ? this.state(link) : null;
    const given = this.copies.get(msg.seq) ?? 0;
    const verdict = admitRequest({
      role: this.opts.role,
      have,
      jobsOnLink: s?.jobs.length ?? 0,
      copiesGiven: given,
      copiesPerSegment: this.opts.copiesPerSegment,
    });
    if (verdict !== 'accept' || !s || !bytes) {
      if (verdict !== 'accept') link.send({ type: MsgType.Reject, reqId: msg.reqId, reason: verdict });
      return;
    }
    // A seed's copies are counted only for requests it actually takes on.
    if (this.opts.role === 'seed') {
      this.copies.set(msg.seq, given + 1);
      if (this.copies.size > 256) this.copies.delete(this.copies.keys().next().value!);
    }
    const now = this.opts.now();
    s.jobs.push({
      reqId: msg.reqId,
      seq: msg.seq,
      offset: msg.offset,
      bytes,
      total: bytes.length,
      // A claim of "right now" buys no more than MIN_DEADLINE_MS of priority over others.
      deadline: jobDeadline(now, msg.deadlineMs),
      sent: 0,
      acked: 0,
      lastAckAt: now,
      firstSentAt: null,
      lastSentAt: 0,
    });
    s.jobs.sort((a, b) => a.deadline - b.deadline);
    this.pump();
  }

  cancel(link: PeerLink, reqId: number): void {
    const s = this.links.get(link);
    if (!s) return;
    const i = s.jobs.findIndex((j) => j.reqId === reqId);
    if (i < 0) return;
    this.endUnfinished(s.jobs.splice(i, 1));
  }

  /**
   * Jobs that end before their last byte was acknowledged (cancelled, or their link gone): their
   * unacknowledged bytes leave the shared flight once drained (`retiring`), and a seed's copy
   * goes back to the segment's count, since nobody got it. Otherwise a neighbour that asks a
   * seed for every new segment and is then banned (a leech forging acks) has spent the seed's
   * copies of them for good, and the viewers it refused as "over cap" take those segments from
   * the CDN.
   */
  private endUnfinished(jobs: readonly Job[]): void {
    for (const j of jobs) {
      const unacked = j.sent - j.acked;
      if (unacked > 0 && this.rateControl)
        this.retiring.push({ bytes: unacked, at: j.lastSentAt + this.drainMs() });
      const given = this.copies.get(j.seq);
      if (this.opts.role === 'seed' && given !== undefined) this.copies.set(j.seq, Math.max(0, given - 1));
    }
  }

  /**
   * The receiver's feedback: drives the LEDBAT window. Only an ack that acknowledges bytes we
   * sent on a job of this link and echoes a time at which that job was sending counts; anything else
   * is ignored (and counted: a link that keeps forging acks is reported). The window follows
   * the median queueing delay of the links that sent samples recently, so one lying neighbour
   * cannot pin the shared upload window.
   */
  ack(link: PeerLink, msg: Extract<WireMessage, { type: MsgType.Ack }>): void {
    const s = this.links.get(link);
    if (!s) return;
    const now = this.opts.now();
    const job = s.jobs.find((j) => j.reqId === msg.reqId) ?? null;
    if (!job) return; // a job that ended (done, cancelled): its last acks are still on the way
    const forged =
      msg.received > job.sent || !echoedBetween(msg.echoSentAt, job.firstSentAt ?? now, job.lastSentAt);
    if (forged) {
      // Acknowledging bytes never sent, or echoing a time the job was not sending.
      if (++s.badAcks === MAX_FORGED_ACKS) this.opts.onAbuse?.(link, 'forged acknowledgements');
      return;
    }
    // Late or repeated (acks may overtake each other): nothing new, and nothing wrong.
    if (msg.received <= job.acked) return;
    const newly = msg.received - job.acked;
    job.acked = msg.received;
    job.lastAckAt = now;
    this.lastValidAckAt = now;
    const flightBefore = this.flight;
    this.flight = Math.max(0, this.flight - newly);
    // The ack waited in our event loop's queue too: that wait is CPU, not the network.
    const rtt = Math.max(0, (((now >>> 0) - msg.echoSentAt) >>> 0) - loopLagMs());
    s.delay.add(msg.delayMs, now);
    s.sampledAt = now;
    // Queueing on the way out cannot exceed the whole round trip.
    const queueing = Math.min(this.sharedQueueingDelay(now, s), rtt);
    this.ledbat.onAck(now, newly, queueing, flightBefore, rtt < 60_000 ? rtt : null);
    this.pace.setRate(this.rateControl ? this.ledbat.rateBytesPerMs() * 1.5 : null, now);
    if (job.acked >= job.total - job.offset) s.jobs.splice(s.jobs.indexOf(job), 1);
    this.pump();
  }

  /** The median of the fresh links' queueing delays (this link's when it is the only one). */
  private sharedQueueingDelay(now: number, own: LinkState): number {
    const delays: number[] = [];
    for (const l of this.links.values())
      if (now - l.sampledAt <= SAMPLE_FRESH_MS) delays.push(l.delay.queueingDelayMs());
    if (delays.length === 0) return own.delay.queueingDelayMs();
    delays.sort((a, b) => a - b);
    return delays[(delays.length - 1) >> 1]!;
  }

  /**
   * The segment was freed under a job that had not sent it all (evicted from the cache: it left
   * the live window, or the cache's budget): the job ends, and the neighbour hears that the
   * segment is no longer held, so it asks elsewhere at once instead of waiting for its timeout.
   */
  private withdraw(s: LinkState, job: Job): void {
    s.jobs.splice(s.jobs.indexOf(job), 1);
    this.endUnfinished([job]);
    s.link.send({ type: MsgType.Reject, reqId: job.reqId, reason: RejectReason.NotHave });
  }

  dropPeer(link: PeerLink): void {
    const s = this.links.get(link);
    if (s) this.endUnfinished(s.jobs);
    this.links.delete(link);
  }

  /** Upload rate over the last seconds (bytes/s). */
  rateBytesPerSecond(): number {
    return this.meter.bytesPerSecond(this.opts.now());
  }

  /** How long bytes already sent may take to leave the path: a round trip, within the ack timeout. */
  private drainMs(): number {
    return Math.min(ACK_TIMEOUT_MS, this.ledbat.roundTripMs());
  }

  /** Retiring bytes whose time has come leave the flight. */
  private retireDue(now: number): void {
    if (this.retiring.length === 0) return;
    let gone = 0;
    this.retiring = this.retiring.filter((r) => {
      if (r.at > now) return true;
      gone += r.bytes;
      return false;
    });
    this.flight = Math.max(0, this.flight - gone);
  }

  /** The window is full: a job whose acks stopped long ago counts as lost (RFC 6817 halves). */
  private expireStalled(now: number): void {
    // Only silence on every link is a loss of the shared uplink (RFC 6817 halves); one link
    // whose acks stopped (gone quiet, or lying) just gives its bytes back.
    const uplinkSilent = now - this.lastValidAckAt > ACK_TIMEOUT_MS;
    for (const s of this.links.values()) {
      for (const j of s.jobs) {
        if (j.sent > j.acked && now - j.lastAckAt > ACK_TIMEOUT_MS) {
          if (uplinkSilent) this.ledbat.onLoss();
          this.flight = Math.max(0, this.flight - (j.sent - j.acked));
          j.acked = j.sent;
          j.lastAckAt = now;
        }
      }
    }
  }

  /** Bytes sent on a link and not acknowledged yet. */
  private static linkFlight(s: LinkState): number {
    let n = 0;
    for (const j of s.jobs) n += j.sent - j.acked;
    return n;
  }

  /** The next chunk to send: most urgent first, leeches last, least recently served among equals. */
  private pick(now: number): { s: LinkState; job: Job; room: number } | null {
    if (this.rateControl) {
      this.retireDue(now);
      if (this.flight + CHUNK_BYTES > this.ledbat.cwnd) this.expireStalled(now);
      if (this.flight + CHUNK_BYTES > this.ledbat.cwnd || this.pace.waitMs(now) > 0) return null;
    }
    let best: { s: LinkState; job: Job; leech: boolean; room: number } | null = null;
    // The most urgent job may have the whole window, so that one segment is finished (and can be
    // passed on by its receiver) before the next starts, rather than all of them crawling side
    // by side past their deadlines (sim:swarm: p2p share 0.81 → 0.87 in sub-rooms of 1,000).
    // Only a link whose acks are flowing earns that: one that never acknowledges (or lies) holds
    // at most an equal share of the window, so it can only block its own share.
    let busy = 0;
    if (this.rateControl) for (const s of this.links.values()) if (s.jobs.length) busy++;
    const fair = Math.max(2 * CHUNK_BYTES, this.ledbat.cwnd / Math.max(1, busy));
    for (const s of this.links.values()) {
      if (!s.link.isOpen) continue;
      const job = s.jobs.find((j) => j.offset + j.sent < j.total);
      if (!job) continue;
      if (job.bytes.length !== job.total) {
        this.withdraw(s, job);
        continue;
      }
      if (s.link.bufferedAmount() >= LOW_WATER_BYTES) continue;
      const share = now - s.sampledAt <= ACKS_FLOWING_MS ? this.ledbat.cwnd : fair;
      const linkRoom = this.rateControl ? share - Uploader.linkFlight(s) : Number.POSITIVE_INFINITY;
      if (linkRoom < CHUNK_BYTES) continue;
      const leech = this.opts.isLeech?.(s.link) ?? false;
      if (
        !best ||
        uploadsBefore(
          { leech, deadline: job.deadline, lastServedAt: s.lastServedAt },
          { leech: best.leech, deadline: best.job.deadline, lastServedAt: best.s.lastServedAt },
        )
      ) {
        best = { s, job, leech, room: linkRoom };
      }
    }
    return best;
  }

  /** Sends what may leave now; schedules itself again for what must wait (pacing). */
  pump(_link?: PeerLink): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const now = this.opts.now();
        const wait = this.budget.waitMs(now);
        if (wait > 0) return this.wakeIn(wait);
        const next = this.pick(now);
        if (!next) return this.wakeIn(this.nextPacingWait(now));
        const { s, job } = next;
        const start = job.offset + job.sent;
        const end = Math.min(start + this.chunkSize(next.room), job.total);
        const payload = job.bytes.subarray(start, end);
        const sent = s.link.send({
          type: MsgType.Data,
          reqId: job.reqId,
          seq: job.seq,
          offset: start,
          total: job.total,
          sentAt: now >>> 0,
          payload,
        });
        if (!sent) {
          // The link is gone: its jobs end unfinished.
          this.endUnfinished(s.jobs);
          s.jobs = [];
          continue;
        }
        this.budget.takeWithDebt(payload.length, now);
        if (this.rateControl) this.pace.takeWithDebt(payload.length, now);
        if (job.sent === job.acked) job.lastAckAt = now;
        job.sent += payload.length;
        job.firstSentAt ??= now;
        job.lastSentAt = now;
        this.flight += payload.length;
        s.lastServedAt = now;
        this.bytesSent += payload.length;
        this.meter.add(payload.length, now);
        this.opts.onSent?.(s.link, payload.length);
        if (!this.rateControl && start + payload.length >= job.total) s.jobs.splice(s.jobs.indexOf(job), 1);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The next chunk's size (upload-policy.ts chunkBytes), no larger than the room left in the
   * window and in the link's share (at least CHUNK_BYTES, which pick() made sure of): the
   * window fills as it did with equal chunks, which LEDBAT's "grow only while used" rule needs.
   */
  private chunkSize(linkRoom: number): number {
    if (!this.rateControl) return chunkBytes(null, this.budget.rate);
    const room = Math.min(linkRoom, this.ledbat.cwnd - this.flight);
    const wanted = chunkBytes(this.ledbat.rateBytesPerMs(), this.budget.rate);
    return Math.max(CHUNK_BYTES, Math.min(wanted, Math.floor(room / 1024) * 1024));
  }

  private nextPacingWait(now: number): number | null {
    if (!this.rateControl) return null;
    const waiting = [...this.links.values()].some((s) => s.jobs.some((j) => j.offset + j.sent < j.total));
    if (!waiting) return null;
    if (this.flight + CHUNK_BYTES <= this.ledbat.cwnd) return Math.max(1, this.pace.waitMs(now));
    // Window full: acks wake us (ack → pump); the timer waits for retiring bytes to drain, or
    // guards against acks that never come.
    let wake = ACK_TIMEOUT_MS;
    for (const r of this.retiring) wake = Math.min(wake, r.at - now);
    return Math.max(1, wake);
  }

  private wakeIn(ms: number | null): void {
    if (ms === null) return;
    const at = this.opts.now() + Math.max(1, ms);
    // A pending timer serves, unless bytes are retiring and it fires after them: a window that
    // frees when they drain must not wait for the guard set while it was full. (A pace wait
    // does not bring the guard forward: acks arrive about as often, and each wakes the pump.)
    if (this.timer) {
      if (this.timerAt <= at || this.retiring.length === 0) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.pump();
      },
      Math.max(1, ms),
    );
  }
}
