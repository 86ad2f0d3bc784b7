/** Whether the renderer can talk to the viewer core (browser mode: the WebSocket is up). */
import { create } from 'zustand';

interface ConnectionState {
  transport: 'ipc' | 'ws';
  connected: boolean;
}

export const useConnectionStore = create<ConnectionState>()(() => ({
  transport: 'ipc',
  connected: true,
}));
