/**
 * The peers as a segment source: the swarm's peer node behind the same port as the CDN. It
 * asks the best neighbour among those that announced a segment, cancels on the planner's
 * word, reports progress, and tells which members of the room share the first-copy duty.
 */
import type { Swarm } from '../../p2p/swarm';
import type { FetchRequest, SegmentSource } from './segment-source';

export class PeerSource implements SegmentSource {
  readonly name = 'peer' as const;

  constructor(private readonly swarm: Swarm) {}

  get node() {
    return this.swarm.node;
  }

  start(req: FetchRequest): { peer: string } | null {
    if (req.size === null || req.holders.size === 0) return null;
    const peer = this.swarm.node.fetch(req.seq, req.size, req.holders, req.deadline);
    return peer === null ? null : { peer };
  }

  cancel(seq: number, penalise: boolean): void {
    this.swarm.node.cancel(seq, penalise);
  }

  progress(seq: number): { received: number; startedAt: number; lastDataAt: number } | undefined {
    return this.swarm.node.transfer(seq);
  }

  /**
   * The room this viewer shares first copies with: itself and its viewer neighbours, sorted;
   * empty when a seed is among the neighbours (the seed brings the first copy).
   */
  firstCopyMembers(): string[] {
    const members = [this.swarm.node.peerId];
    for (const n of this.swarm.node.connected()) {
      if (n.role === 'seed') return [];
      members.push(n.id);
    }
    return members.sort();
  }

  /** Tells the neighbours that lack `seq` (those in `holders` announced it themselves). */
  announce(seq: number, holders?: ReadonlySet<string>): void {
    this.swarm.node.announce(seq, holders);
  }

  ban(peer: string, why: string): void {
    this.swarm.node.ban(peer, why);
  }

  close(): void {
    this.swarm.close();
  }
}
