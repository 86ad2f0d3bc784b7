/**
 * Two links the badge reports: renderer ↔ core (browser mode: the WebSocket; always up over
 * IPC) and core ↔ server (the core probes the server and pushes 'server.status').
 */
import { create } from 'zustand';
import type { ServerStatus } from '../../../common/ipc-contract';

interface ConnectionState {
  transport: 'ipc' | 'ws';
  connected: boolean;
  /** The core's last word on the server; null until it has checked once. */
  server: ServerStatus | null;
}

export const useConnectionStore = create<ConnectionState>()(() => ({
  transport: 'ipc',
  connected: true,
  server: null,
}));

export type BadgeState = 'ok' | 'checking' | 'server-down' | 'core-down';

/** What the connection badge shows: the core link first, then the server. */
export function badgeState(s: Pick<ConnectionState, 'connected' | 'server'>): BadgeState {
  if (!s.connected) return 'core-down';
  if (s.server === null || s.server.checkedAt === 0) return 'checking';
  return s.server.reachable ? 'ok' : 'server-down';
}
