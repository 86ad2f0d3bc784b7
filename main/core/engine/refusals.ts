/**
 * What neighbours announced and then refused: the evidence behind banning a neighbour that
 * announces segments it will not send. Each neighbour's newest announced seq and its strikes;
 * the verdict itself is a pure function (refusalVerdict), tested table-driven.
 */
import { PROMISED_SEGMENTS } from '../../p2p/wire';

/** Refusals of announced segments before a neighbour is banned. */
const MAX_STRIKES = 2;

/**
 * What a NotHave refusal of an announced segment proves. Within the newest half of the
 * segments the neighbour promised to keep (PROMISED_SEGMENTS, counted back from the newest it
 * announced to us) it is a lie: banned at once. Older, it may have raced the neighbour's
 * eviction, so it is a strike, and the MAX_STRIKES-th strike bans.
 */
export function refusalVerdict(
  seq: number,
  newestAnnounced: number | undefined,
  strikes: number,
): 'ban' | 'strike' {
  const promised = newestAnnounced !== undefined && seq > newestAnnounced - PROMISED_SEGMENTS / 2;
  return promised || strikes + 1 >= MAX_STRIKES ? 'ban' : 'strike';
}

export class RefusalLedger {
  /** Refusals of announced segments, by neighbour. */
  private readonly strikes = new Map<string, number>();
  /** The newest seq each neighbour announced. */
  private readonly newestAnnounced = new Map<string, number>();

  announced(peer: string, seqs: readonly number[]): void {
    let newest = this.newestAnnounced.get(peer) ?? Number.NEGATIVE_INFINITY;
    for (const seq of seqs) if (seq > newest) newest = seq;
    if (Number.isFinite(newest)) this.newestAnnounced.set(peer, newest);
  }

  /** A neighbour refused a segment it had announced: null for a strike, or why it is banned. */
  refused(peer: string, seq: number): string | null {
    const n = this.strikes.get(peer) ?? 0;
    const newest = this.newestAnnounced.get(peer);
    if (refusalVerdict(seq, newest, n) === 'strike') {
      this.strikes.set(peer, n + 1);
      return null;
    }
    this.strikes.delete(peer);
    return `refused segment ${seq} it had announced (newest announced ${newest ?? 'none'}, ${n} earlier refusals)`;
  }

  forget(peer: string): void {
    this.strikes.delete(peer);
    this.newestAnnounced.delete(peer);
  }
}
