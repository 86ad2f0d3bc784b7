/**
 * What the player shows and measured. Written by the playback session (player/session.ts);
 * read by the UI and by the test hook.
 */
import { create } from 'zustand';
import type { SessionState } from '../../../common/ipc-contract';

/**
 * idle: nothing selected · opening: asked the core, waiting for the first frame · playing:
 * a frame is shown · offline / unreachable / error: the message says why; a retry runs.
 */
export type Phase = 'idle' | 'opening' | 'playing' | 'offline' | 'unreachable' | 'error';

export interface PlayerState {
  channel: string | null;
  sessionId: string | null;
  phase: Phase;
  /** What the user is told when the phase is not idle/playing. */
  message: string | null;
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
} satisfies Partial<PlayerState>;

export const usePlayerStore = create<PlayerState>()(() => ({
  ...freshMeasurements,
  channel: null,
  phase: 'idle',
  message: null,
  retryAt: null,
  paused: false,
  muted: true,
  volume: 1,
  showStats: false,
}));
