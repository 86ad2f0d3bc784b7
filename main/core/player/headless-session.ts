/**
 * A player session played by the headless player: opens `channel` on the core, reads its
 * gateway stream at real time, and feeds the player's figures back as 'player.report' (as the
 * renderer's player does), so quality reports carry start-up, stalls and latency. Used by
 * `swarmcast peer` and by tests that need real viewers in one process.
 */
import { everyBeat } from '../../../common/heartbeat';
import { DEFAULT_SETTINGS } from '../../../common/ipc-contract';
import type { Core } from '../viewer-core';
import { HeadlessPlayer, type TimelineSource } from './headless-player';

export interface HeadlessSession {
  sessionId: string;
  player: HeadlessPlayer;
  /** Sends the player's figures to the core now. */
  report(): void;
  /** Stops reporting and the player (the core session is the caller's to close). */
  stop(): void;
}

export function startHeadlessSession(core: Core, channel: string, reportEveryMs = 1000): HeadlessSession {
  const opened = core.openPlayer(channel);
  // One timeline object, refreshed at each read (the player reads it at each decision).
  let session: NonNullable<ReturnType<Core['player']>>['session'] | null = null;
  const timeline: TimelineSource = {
    firstTs: null,
    clockOffsetMs: 0,
    anchors: () => session?.anchors() ?? [],
  };
  const player = new HeadlessPlayer(
    opened.streamUrl,
    () => {
      const p = core.player(opened.sessionId);
      if (!p) return null;
      session = p.session;
      timeline.firstTs = p.firstTs;
      timeline.clockOffsetMs = p.session.clockOffsetMs;
      return timeline;
    },
    () => {
      const p = core.player(opened.sessionId);
      return p ? core.liveSyncOf(p.session) : DEFAULT_SETTINGS.liveSync;
    },
  );
  const report = () => {
    const s = player.stats();
    core
      .invoke('player.report', {
        sessionId: opened.sessionId,
        ttffMs: s.ttffMs,
        latencyS: s.latencyS === null ? null : Math.min(3600, Math.max(-60, s.latencyS)),
        bufferS: Math.min(3600, Math.max(0, s.bufferS)),
        stalls: s.stalls,
        stallSeconds: s.stallSeconds,
      })
      .catch(() => undefined);
  };
  const stopReports = everyBeat(reportEveryMs, report, { keepAlive: false });
  return {
    sessionId: opened.sessionId,
    player,
    report,
    stop() {
      stopReports();
      player.stop();
    },
  };
}
