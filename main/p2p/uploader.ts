/**
 * Serving neighbours: requests for verified segments are queued per link and sent in
 * chunks, most urgent deadline first, while the link's data-channel queue is below its
 * low-water mark (so the queue stays short and the node, not SCTP, decides what goes out).
 * A seed hands each segment to a bounded number of viewers; the viewers spread it further.
 */
import { LOW_WATER_BYTES, type PeerLink } from './peer-link';
import { MsgType, RejectReason, type WireMessage } from './wire';

export const CHUNK_BYTES = 32 * 1024;

interface Job {
  reqId: number;
  seq: number;
  offset: number;
  bytes: Uint8Array;
  deadline: number;
}

export interface UploaderOptions {
  role: 'viewer' | 'seed';
  copiesPerSegment: number;
  bytesOf: (seq: number) => Uint8Array | null;
  now: () => number;
}

export class Uploader {
  private readonly jobs = new Map<PeerLink, Job[]>();
  private readonly copies = new Map<number, number>();
  bytesSent = 0;

  constructor(private readonly opts: UploaderOptions) {}

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
    const list = this.jobs.get(link) ?? [];
    if (list.length >= 16) {
      link.send({ type: MsgType.Reject, reqId: msg.reqId, reason: RejectReason.Busy });
      return;
    }
    list.push({
      reqId: msg.reqId,
      seq: msg.seq,
      offset: msg.offset,
      bytes,
      deadline: this.opts.now() + msg.deadlineMs,
    });
    list.sort((a, b) => a.deadline - b.deadline);
    this.jobs.set(link, list);
    this.pump(link);
  }

  cancel(link: PeerLink, reqId: number): void {
    const list = this.jobs.get(link);
    if (!list) return;
    const i = list.findIndex((j) => j.reqId === reqId);
    if (i >= 0) list.splice(i, 1);
  }

  /** The receiver's feedback; transmission control reads its delay samples. */
  ack(_link: PeerLink, _msg: Extract<WireMessage, { type: MsgType.Ack }>): void {}

  dropPeer(link: PeerLink): void {
    this.jobs.delete(link);
  }

  /** Sends chunks to `link` until its queue reaches the low-water mark or nothing is left. */
  pump(link: PeerLink): void {
    const list = this.jobs.get(link);
    while (list && list.length > 0 && link.isOpen && link.bufferedAmount() < LOW_WATER_BYTES) {
      const job = list[0]!;
      const end = Math.min(job.offset + CHUNK_BYTES, job.bytes.length);
      const payload = job.bytes.subarray(job.offset, end);
      const sent = link.send({
        type: MsgType.Data,
        reqId: job.reqId,
        seq: job.seq,
        offset: job.offset,
        total: job.bytes.length,
        sentAt: this.opts.now() >>> 0,
        payload,
      });
      if (!sent) return;
      this.bytesSent += payload.length;
      job.offset = end;
      if (end >= job.bytes.length) list.shift();
    }
  }
}
