/**
 * The peers as a segment source: the swarm's peer node behind the same port as the CDN. It
 * asks the best neighbour among those that announced a segment, cancels on the planner's
 * word, reports progress, and tells which members of the room share the first-copy duty.
 */
import type { Swarm } from '../../p2p/swarm';
import type { FetchRequest, SegmentSource } from './segment-source';

export class PeerSource implements SegmentSource {
  readonly name = 'peer' as const;
  /** firstCopyMembers() and the neighbour list it was made from (the node's, kept until it changes). */
  private members: readonly string[] = [];
  private membersOf: unknown = null;

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
  firstCopyMembers(): readonly string[] {
    const connected = this.swarm.node.connected();
    if (this.membersOf === connected) return this.members;
    const members = [this.swarm.node.peerId];
    let seed = false;
    for (let i = 0; i < connected.length; i++) {
      const n = connected[i]!;
      if (n.role === 'seed') seed = true;
      members.push(n.id);
    }
    this.membersOf = connected;
    this.members = seed ? [] : members.sort();
    return this.members;
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
