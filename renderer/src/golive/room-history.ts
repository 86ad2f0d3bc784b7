/**
 * The Go-live view's room figures over time (P2P share, CDN bytes saved), polled from the core
 * every few seconds while the view is open; the last 10 minutes are kept for the chart.
 */
import { create } from 'zustand';
import type { InvokeResponse } from '../../../common/ipc-contract';

export type Room = InvokeResponse<'golive.room'>;

export const ROOM_HISTORY_S = 600;

export interface RoomHistory {
  /** Unix seconds. */
  t: number[];
  share: (number | null)[];
  savedMB: (number | null)[];
}

interface RoomState {
  channel: string | null;
  room: Room | null;
  error: string | null;
  history: RoomHistory;
}

const empty = (): RoomHistory => ({ t: [], share: [], savedMB: [] });

export const useRoomStore = create<RoomState>()(() => ({
  channel: null,
  room: null,
  error: null,
  history: empty(),
}));

/** Adds one poll's answer; a new channel starts a new history. */
export function pushRoom(room: Room, nowMs: number): void {
  const s = useRoomStore.getState();
  const h = s.channel === room.channel ? s.history : empty();
  const t = nowMs / 1000;
  let i = 0;
  while (i < h.t.length && h.t[i]! < t - ROOM_HISTORY_S) i++;
  useRoomStore.setState({
    channel: room.channel,
    room,
    error: null,
    history: {
      t: [...h.t.slice(i), t],
      share: [...h.share.slice(i), room.p2pShare === null ? null : Math.round(room.p2pShare * 1000) / 10],
      savedMB: [...h.savedMB.slice(i), room.cdnBytesSaved === null ? null : room.cdnBytesSaved / 1e6],
    },
  });
}

export function roomFailed(error: string): void {
  useRoomStore.setState({ error });
}
