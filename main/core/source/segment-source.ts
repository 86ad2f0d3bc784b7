/**
 * One port for the places a segment can come from: the CDN and the peers. The engine starts
 * and cancels fetches through it and hears back through SourceEvents; which source gets which
 * segment is the planner's decision alone.
 */
import type { PeerRole } from '../../../common/tracker-protocol';
import type { SourceName } from '../engine/segment-table';

export interface FetchRequest {
  seq: number;
  /** When the player needs it (ms, local clock). */
  deadline: number;
  /** Size from the signed manifest; null for the live-edge segment, not listed yet. */
  size: number | null;
  /** Stream the segment while the origin still cuts it (CDN). */
  liveEdge: boolean;
  /** Neighbours that announced it (peers). */
  holders: ReadonlySet<string>;
}

export interface SegmentSource {
  readonly name: SourceName;
  /** Starts a fetch; null when it cannot start now. `peer` names the neighbour asked. */
  start(req: FetchRequest): { peer: string | null } | null;
  /** Gives the fetch of `seq` up; `penalise` counts it against whoever was too slow. */
  cancel(seq: number, penalise: boolean): void;
  /** Progress of a fetch in flight (peers). */
  progress(seq: number): { received: number; startedAt: number; lastDataAt: number } | undefined;
}

/** Timing the origin sends with a segment before its manifest entry exists. */
export interface EdgeTiming {
  originTime: number | null;
  startTs: number | null;
}

/** Who delivered a segment: the CDN, a viewer, or a seed server. */
export type Provenance = { source: 'cdn' } | { source: 'p2p' | 'seed'; peer: string; role: PeerRole };

export interface SourceEvents {
  /** Bytes of `seq` as they stream in (CDN), in order. */
  chunk(seq: number, bytes: Uint8Array): void;
  /** The CDN finished streaming `seq` (its bytes all came through `chunk`). */
  streamed(seq: number, timing: EdgeTiming): void;
  /** A neighbour delivered `seq` whole: checked against the signed entry before anything else. */
  delivered(
    seq: number,
    bytes: Uint8Array,
    from: Provenance & { source: 'p2p' | 'seed' },
  ): 'ok' | 'bad' | 'pending';
  /**
   * A fetch ended without the segment. `final`: the source says it will never have it
   * (e.g. the CDN answered 404 for a segment out of its window).
   */
  failed(seq: number, source: SourceName, why: string, final: boolean, peer?: string): void;
  /** A neighbour holds these segments / is gone. */
  holders(peer: string, seqs: readonly number[]): void;
  peerGone(peer: string): void;
}
