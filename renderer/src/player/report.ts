/** The once-a-second 'player.report' to the core, clamped to the contract's ranges. */
import type { PlayerReport } from '../../../common/ipc-contract';
import type { PlayerState } from '../stores/player-store';

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
