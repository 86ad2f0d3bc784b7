/**
 * The core's timelines ('session.timeline') of the page's player sessions: the one played, a
 * warm one, the standbys. Kept for the sessions the page holds, the newest few.
 */
import type { Timeline } from '../../../common/ipc-contract';

/** More than the page ever holds at once (played + warm + standbys). */
const MAX_KEPT = 8;

export class Timelines {
  private readonly map = new Map<string, Timeline>();

  get(sessionId: string): Timeline | null {
    return this.map.get(sessionId) ?? null;
  }

  /** Keeps `timeline`; beyond MAX_KEPT the oldest goes unless `inUse` says it is still held. */
  keep(timeline: Timeline, inUse: (sessionId: string) => boolean): void {
    this.map.set(timeline.sessionId, timeline);
    if (this.map.size <= MAX_KEPT) return;
    for (const id of this.map.keys()) {
      if (!inUse(id)) {
        this.map.delete(id);
        return;
      }
    }
  }

  delete(sessionId: string): void {
    this.map.delete(sessionId);
  }

  /**
   * A channel switch on the same player: until the new channel's timeline comes, no anchors (no
   * latency figure) and no burst, but the same live-sync thresholds.
   */
  restart(sessionId: string): void {
    const old = this.map.get(sessionId);
    if (old) this.map.set(sessionId, { ...old, anchors: [], keyframes: [], burstEndTs: null });
  }
}
