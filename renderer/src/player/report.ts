/**
 * What the playing session tells the page and the core twice a second: the LIVE badge, the
 * stats history, and (once a second) the 'player.report' to the core, clamped to the
 * contract's ranges.
 */
import type { LiveSync, PlayerReport } from '../../../common/ipc-contract';
import { getApi } from '../api';
import { type PlayerState, usePlayerStore } from '../stores/player-store';
import { pushHistory } from '../stores/stats-store';

/** Behind live by at most live sync's speed-up threshold plus this still counts as live. */
const LIVE_SLACK_S = 1;

/** One tick of a playing session; `report` on every other one. */
export function playingTick(sessionId: string, liveSync: LiveSync, report: boolean): void {
  const s = usePlayerStore.getState();
  // The LIVE badge tells the truth: live only while playing within live sync's reach of the edge.
  const atLive = !s.paused && s.latencyS !== null && s.latencyS <= liveSync.speedUpAboveS + LIVE_SLACK_S;
  if (atLive !== s.atLive) usePlayerStore.setState({ atLive });
  pushHistory(Date.now(), s.latencyS, s.bufferS);
  if (!report || s.paused) return;
  getApi()
    .invoke('player.report', playerReport(sessionId, s))
    .catch(() => {});
}

export function playerReport(sessionId: string, s: PlayerState): PlayerReport {
  return {
    sessionId,
    ttffMs: s.ttffMs === null ? null : Math.min(s.ttffMs, 600_000),
    latencyS: s.latencyS === null ? null : Math.min(3600, Math.max(-60, s.latencyS)),
    bufferS: Math.min(3600, Math.max(0, s.bufferS)),
    stalls: Math.min(1_000_000, s.stalls),
    stallSeconds: Math.min(1e7, s.stallSeconds),
  };
}
