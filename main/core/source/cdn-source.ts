/**
 * The CDN as a segment source: one HTTP fetch per segment, streamed into the engine chunk by
 * chunk (the live-edge segment plays while the origin still cuts it), with its own time limit
 * so that a hung request fails and the planner can try again instead of waiting for ever.
 */

import type { CdnClient } from '../manifest/cdn-client';
import { OriginError } from '../manifest/origin-http';
import type { FetchRequest, SegmentSource, SourceEvents } from './segment-source';

/** A whole segment must arrive within this time (ms); the live edge has the cut's time on top. */
const FETCH_TIMEOUT_MS = 10_000;
const LIVE_EDGE_TIMEOUT_MS = 20_000;

export class CdnSource implements SegmentSource {
  readonly name = 'cdn' as const;
  private readonly inFlight = new Map<number, AbortController>();

  constructor(
    private readonly client: () => CdnClient | null,
    private readonly channel: string,
    private readonly stream: () => string | null,
    private readonly events: SourceEvents,
  ) {}

  start(req: FetchRequest): { peer: null } | null {
    const client = this.client();
    const stream = this.stream();
    if (!client || !stream || this.inFlight.has(req.seq)) return null;
    const abort = new AbortController();
    this.inFlight.set(req.seq, abort);
    const timer = setTimeout(() => abort.abort(), req.liveEdge ? LIVE_EDGE_TIMEOUT_MS : FETCH_TIMEOUT_MS);
    const seq = req.seq;
    client
      .segment(
        this.channel,
        stream,
        seq,
        (chunk) => {
          if (!abort.signal.aborted) this.events.chunk(seq, chunk);
        },
        abort.signal,
      )
      .then(
        (meta) => {
          if (this.inFlight.get(seq) !== abort) return;
          this.inFlight.delete(seq);
          this.events.streamed(seq, { originTime: meta.originTime, startTs: meta.startTs });
        },
        (err: unknown) => {
          if (this.inFlight.get(seq) !== abort) return; // cancelled: the engine already knows
          this.inFlight.delete(seq);
          const final = err instanceof OriginError && err.status === 404 && !req.liveEdge;
          const why = abort.signal.aborted ? 'timed out' : err instanceof Error ? err.message : String(err);
          this.events.failed(seq, 'cdn', why, final);
        },
      )
      .finally(() => clearTimeout(timer));
    return { peer: null };
  }

  cancel(seq: number): void {
    const abort = this.inFlight.get(seq);
    if (!abort) return;
    this.inFlight.delete(seq);
    abort.abort();
  }

  progress(): undefined {
    return undefined;
  }

  close(): void {
    for (const abort of this.inFlight.values()) abort.abort();
    this.inFlight.clear();
  }
}
