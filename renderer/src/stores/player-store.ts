/**
 * What the player shows and measured. Written by the playback session (player/session.ts);
 * read by the UI and by the test hook.
 */
import { create } from 'zustand';
import type { LatencyMode, SessionState } from '../../../common/ipc-contract';
import { loadAudioPrefs } from '../player/volume-memory';

/**
 * idle: nothing selected · opening: asked the core, waiting for the first frame · playing:
 * a frame is shown · offline / unreachable / error: the message says why; a retry runs.
 */
export type Phase = 'idle' | 'opening' | 'playing' | 'offline' | 'unreachable' | 'error';

/** Why playback failed, as the user is told: unreachable splits into the server and the app's core. */
export type Failure = 'offline' | 'unreachable' | 'core' | 'error';

export interface PlayerState {
  channel: string | null;
  sessionId: string | null;
  phase: Phase;
  /** The core's or player's own words when the phase is a failure (shown behind "details"). */
  message: string | null;
  /** What failed, for the plain-words explanation; null unless failing. */
  failure: Failure | null;
  /** The channel last played after Stop (Play starts it again); null before anything played. */
  lastChannel: string | null;
  /** This session's own latency mode (a streamer's preview); null: the setting's. */
  latencyMode: LatencyMode | null;
  /** Playing within live sync's reach of the live edge (not paused, not far behind). */
  atLive: boolean;
  /** Date.now() of the next automatic retry, or null. */
  retryAt: number | null;
  /** The core's last 'session.status' state for this session. */
  coreState: SessionState | null;
  ttffMs: number | null;
  latencyS: number | null;
  bufferS: number;
  stalls: number;
  stallSeconds: number;
  playbackRate: number;
  paused: boolean;
  waiting: boolean;
  muted: boolean;
  volume: number;
  showStats: boolean;
}

/** Fields that describe one session's measurements, reset when a new channel starts. */
export const freshMeasurements = {
  sessionId: null,
  coreState: null,
  ttffMs: null,
  latencyS: null,
  bufferS: 0,
  stalls: 0,
  stallSeconds: 0,
  playbackRate: 1,
  waiting: false,
  atLive: false,
} satisfies Partial<PlayerState>;

export const usePlayerStore = create<PlayerState>()(() => ({
  ...freshMeasurements,
  channel: null,
  phase: 'idle',
  message: null,
  failure: null,
  lastChannel: null,
  latencyMode: null,
  retryAt: null,
  paused: false,
  // Sound on unless the user muted it last time; a browser that refuses sound plays muted.
  ...loadAudioPrefs(),
  showStats: false,
}));
