/**
 * Serving neighbours, with transmission control. Requests for verified segments are queued
 * per link; one loop decides what leaves next across all links: the most urgent deadline
 * first, neighbours that never give anything back last, and round-robin among equals. A
 * chunk leaves only when (1) the user's upload budget has tokens (one cap for all links),
 * (2) the link's LEDBAT window has room and its pacing bucket allows it, and (3) the
 * data-channel queue is below its low-water mark — so the rate controller, not SCTP's
 * queue, decides what goes out. A seed hands each segment to a bounded number of viewers.
 */
import { Ledbat } from './ledbat';
import { RateMeter, TokenBucket } from './pacer';
import { LOW_WATER_BYTES, type PeerLink } from './peer-link';
import { MsgType, RejectReason, type WireMessage } from './wire';

export const CHUNK_BYTES = 32 * 1024;
/** A request with no acknowledgement for this long counts as a loss for the window. */
const ACK_TIMEOUT_MS = 1500;
const MAX_JOBS_PER_LINK = 16;

interface Job {
  reqId: number;
  seq: number;
  offset: number;
  bytes: Uint8Array;
  deadline: number;
  sent: number;
  acked: number;
  lastAckAt: number;
}

interface LinkState {
  link: PeerLink;
  jobs: Job[];
  ledbat: Ledbat;
  pace: TokenBucket;
  flight: number;
  lastServedAt: number;
}

export interface UploaderOptions {
  role: 'viewer' | 'seed';
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
}

export class Uploader {
  private readonly links = new Map<PeerLink, LinkState>();
  private readonly copies = new Map<number, number>();
  private readonly budget: TokenBucket;
  private readonly rateControl: boolean;
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  readonly meter = new RateMeter(3000);
  bytesSent = 0;

  constructor(private readonly opts: UploaderOptions) {
    this.rateControl = opts.rateControl ?? true;
    this.budget = new TokenBucket(opts.capBytesPerMs ?? null, 2 * CHUNK_BYTES, opts.now());
  }

  get capBytesPerMs(): number | null {
    return this.budget.rateBytesPerMs;
  }

  /** Applies a new cap at once (settings change live). */
  setCap(bytesPerMs: number | null): void {
    this.budget.setRate(bytesPerMs, this.opts.now());
    this.pump();
  }

  private state(link: PeerLink): LinkState {
    let s = this.links.get(link);
    if (!s) {
      const now = this.opts.now();
      const ledbat = new Ledbat({ mss: CHUNK_BYTES });
      s = {
        link,
        jobs: [],
        ledbat,
        pace: new TokenBucket(null, 2 * CHUNK_BYTES, now),
        flight: 0,
        lastServedAt: 0,
      };
      this.links.set(link, s);
    }
    return s;
  }

  request(link: PeerLink, msg: Extract<WireMessage, { type: MsgType.Request }>): void {
    const bytes = this.opts.bytesOf(msg.seq);
    if (!bytes || msg.offset >= bytes.length) {
      link.send({ type: MsgType.Reject, reqId: msg.reqId, reason: RejectReason.NotHave });
      return;
    }
    if (this.opts.role === 'seed') {
      const given = this.copies.get(msg.seq) ?? 0;
      if (given >= this.opts.copiesPerSegment) {
        link.send({ type: MsgType.Reject, reqId: msg.reqId, reason: RejectReason.OverCap });
        return;
      }
      this.copies.set(msg.seq, given + 1);
      if (this.copies.size > 256) this.copies.delete(this.copies.keys().next().value!);
    }
    const s = this.state(link);
    if (s.jobs.length >= MAX_JOBS_PER_LINK) {
      link.send({ type: MsgType.Reject, reqId: msg.reqId, reason: RejectReason.Busy });
      return;
    }
    const now = this.opts.now();
    s.jobs.push({
      reqId: msg.reqId,
      seq: msg.seq,
      offset: msg.offset,
      bytes,
      deadline: now + msg.deadlineMs,
      sent: 0,
      acked: 0,
      lastAckAt: now,
    });
    s.jobs.sort((a, b) => a.deadline - b.deadline);
    this.pump();
  }

  cancel(link: PeerLink, reqId: number): void {
    const s = this.links.get(link);
    if (!s) return;
    const i = s.jobs.findIndex((j) => j.reqId === reqId);
    if (i < 0) return;
    const job = s.jobs[i]!;
    s.flight = Math.max(0, s.flight - (job.sent - job.acked));
    s.jobs.splice(i, 1);
  }

  /** The receiver's feedback: drives the link's LEDBAT window. */
  ack(link: PeerLink, msg: Extract<WireMessage, { type: MsgType.Ack }>): void {
    const s = this.links.get(link);
    if (!s) return;
    const now = this.opts.now();
    const job = s.jobs.find((j) => j.reqId === msg.reqId) ?? null;
    let newly = 0;
    if (job && msg.received > job.acked && msg.received <= job.sent) {
      newly = msg.received - job.acked;
      job.acked = msg.received;
      job.lastAckAt = now;
    }
    const flightBefore = s.flight;
    s.flight = Math.max(0, s.flight - newly);
    const rtt = ((now >>> 0) - msg.echoSentAt) >>> 0;
    s.ledbat.onAck(now, newly, msg.delayMs, flightBefore, rtt < 60_000 ? rtt : null);
    s.pace.setRate(this.rateControl ? s.ledbat.rateBytesPerMs() * 1.5 : null, now);
    if (job && job.acked >= job.bytes.length - job.offset) s.jobs.splice(s.jobs.indexOf(job), 1);
    this.pump();
  }

  dropPeer(link: PeerLink): void {
    this.links.delete(link);
  }

  /** Upload rate over the last seconds (bytes/s). */
  rateBytesPerSecond(): number {
    return this.meter.bytesPerSecond(this.opts.now());
  }

  /** The next chunk to send: most urgent first, leeches last, least recently served among equals. */
  private pick(now: number): { s: LinkState; job: Job } | null {
    let best: { s: LinkState; job: Job; leech: boolean } | null = null;
    for (const s of this.links.values()) {
      if (!s.link.isOpen) continue;
      const job = s.jobs.find((j) => j.offset + j.sent < j.bytes.length);
      if (!job) continue;
      if (s.link.bufferedAmount() >= LOW_WATER_BYTES) continue;
      if (this.rateControl) {
        if (s.flight + CHUNK_BYTES > s.ledbat.cwnd) {
          if (now - job.lastAckAt > ACK_TIMEOUT_MS) {
            // Nothing came back for too long: treat as loss, forget what is in flight.
            s.ledbat.onLoss();
            s.flight = 0;
            job.lastAckAt = now;
          }
          continue;
        }
        if (s.pace.waitMs(now) > 0) continue;
      }
      const leech = this.opts.isLeech?.(s.link) ?? false;
      if (
        !best ||
        Number(leech) < Number(best.leech) ||
        (leech === best.leech &&
          (job.deadline < best.job.deadline ||
            (job.deadline === best.job.deadline && s.lastServedAt < best.s.lastServedAt)))
      ) {
        best = { s, job, leech };
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
        const end = Math.min(start + CHUNK_BYTES, job.bytes.length);
        const payload = job.bytes.subarray(start, end);
        const sent = s.link.send({
          type: MsgType.Data,
          reqId: job.reqId,
          seq: job.seq,
          offset: start,
          total: job.bytes.length,
          sentAt: now >>> 0,
          payload,
        });
        if (!sent) {
          s.jobs = [];
          continue;
        }
        this.budget.tryTake(payload.length, now);
        if (this.rateControl) s.pace.tryTake(payload.length, now);
        job.sent += payload.length;
        s.flight += payload.length;
        s.lastServedAt = now;
        this.bytesSent += payload.length;
        this.meter.add(payload.length, now);
        this.opts.onSent?.(s.link, payload.length);
        if (!this.rateControl && start + payload.length >= job.bytes.length)
          s.jobs.splice(s.jobs.indexOf(job), 1);
      }
    } finally {
      this.pumping = false;
    }
  }

  private nextPacingWait(now: number): number | null {
    if (!this.rateControl) return null;
    let min: number | null = null;
    for (const s of this.links.values()) {
      if (!s.jobs.some((j) => j.offset + j.sent < j.bytes.length)) continue;
      const w = Math.max(s.pace.waitMs(now), s.flight + CHUNK_BYTES > s.ledbat.cwnd ? ACK_TIMEOUT_MS : 0);
      if (min === null || w < min) min = w;
    }
    return min;
  }

  private wakeIn(ms: number | null): void {
    if (ms === null || this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.pump();
      },
      Math.max(1, ms),
    );
  }
}
