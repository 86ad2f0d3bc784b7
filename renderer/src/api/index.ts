/**
 * The one SwarmcastApi the renderer uses: the preload's `window.swarmcast` in the Electron
 * app, or the WebSocket client in browser mode (page served at http://127.0.0.1:PORT/TOKEN/).
 */
import type { SwarmcastApi } from '../../../common/ipc-contract';
import { WsTransport } from './ws-transport';

export interface ApiClient {
  api: SwarmcastApi;
  transport: 'ipc' | 'ws';
  /** Listener gets true/false as the link to the core comes and goes (always up over IPC). */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  isConnected(): boolean;
}

/** ws(s)://host/TOKEN/ipc, the token being the first segment of the page's path. */
export function ipcSocketUrl(
  loc: Pick<Location, 'protocol' | 'host' | 'pathname'> = window.location,
): string {
  const token = loc.pathname.split('/').filter(Boolean)[0] ?? '';
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/${token ? `${token}/` : ''}ipc`;
}

function createClient(): ApiClient {
  const preload = window.swarmcast;
  if (preload) {
    return {
      api: preload,
      transport: 'ipc',
      onConnectionChange: () => () => {},
      isConnected: () => true,
    };
  }
  const ws = new WsTransport(ipcSocketUrl());
  return {
    api: ws,
    transport: 'ws',
    onConnectionChange: (l) => ws.onConnectionChange(l),
    isConnected: () => ws.isConnected,
  };
}

let client: ApiClient | null = null;

export function getClient(): ApiClient {
  client ??= createClient();
  return client;
}

export function getApi(): SwarmcastApi {
  return getClient().api;
}
