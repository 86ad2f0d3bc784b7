/**
 * window.__swarmcastPlayer: a read-only view of the player for tests and benchmarks,
 * present in every build.
 */

import { getApi } from '../api';
import { type Phase, usePlayerStore } from '../stores/player-store';
import { decodedFrames } from './media';
import { failureText } from './messages';
import { livePlayers, livePreviews } from './mpegts-player';
import { playbackSession } from './session';

export interface PlayerTestState {
  phase: Phase;
  ttffMs: number | null;
  latencyS: number | null;
  bufferS: number;
  stalls: number;
  currentTime: number;
  playing: boolean;
  decodedFrames: number;
  sessionId: string | null;
  channel: string | null;
  /** What the user is told when playback is offline / unreachable / broken (and the detail), else null. */
  error: string | null;
  /** mpegts.js players alive right now besides the standbys' (0 or 1; more would be a leak). */
  players: number;
  /** Channels waiting in standby (the next and previous while one plays), each with its player once started. */
  standbys: string[];
  /** Of those, the ones a zap or click would show at once now. */
  standbyReady: string[];
  /** mpegts.js players the standbys hold (at most 2). */
  standbyPlayers: number;
  /** Preview-tile players alive (0 or 1). */
  previews: number;
  /** The channel a hidden player was started for ahead of the click (hovered while idle). */
  warm: string | null;
  playbackRate: number;
  stallSeconds: number;
}

/** What the user reads for a failure (plain words, then the detail), as one string. */
function failureSentence(s: ReturnType<typeof usePlayerStore.getState>): string {
  const text = failureText(s.failure ?? 'error', s.channel ?? '');
  return [text.what, s.message].filter(Boolean).join(' ');
}

export function playerTestState(): PlayerTestState {
  const s = usePlayerStore.getState();
  const video = playbackSession.videoElement;
  const standby = playbackSession.standbyState;
  const failed = s.phase === 'offline' || s.phase === 'unreachable' || s.phase === 'error';
  return {
    phase: s.phase,
    ttffMs: s.ttffMs,
    latencyS: s.latencyS,
    bufferS: s.bufferS,
    stalls: s.stalls,
    currentTime: video?.currentTime ?? 0,
    playing: s.phase === 'playing' && !!video && !video.paused && !s.waiting,
    decodedFrames: video ? decodedFrames(video) : 0,
    sessionId: s.sessionId,
    channel: s.channel,
    error: failed ? failureSentence(s) : null,
    players: livePlayers() - standby.players,
    standbys: standby.channels,
    standbyReady: standby.ready,
    standbyPlayers: standby.players,
    previews: livePreviews(),
    warm: playbackSession.warmChannel,
    playbackRate: video?.playbackRate ?? 1,
    stallSeconds: s.stallSeconds,
  };
}

export function installTestHook(): void {
  if (window.__swarmcastPlayer) return;
  const hook = Object.freeze({
    state: playerTestState,
    /** What the core holds open (player sessions, gateway streams, joined channels). */
    coreOpen: async () => (await getApi().invoke('app.info', {})).open,
  });
  Object.defineProperty(window, '__swarmcastPlayer', { value: hook, configurable: true, writable: false });
}
