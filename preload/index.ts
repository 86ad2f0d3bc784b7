/**
 * Preload for the sandboxed renderer: exposes exactly one object, `window.swarmcast`, that
 * implements SwarmcastApi over two IPC channels. Sandboxed preloads may only require
 * 'electron', so this is built as one self-contained CommonJS file (see
 * electron.vite.config.ts) and only type information comes from the contract module.
 */
import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron';
import type * as Contract from '../common/ipc-contract';
import type { EventName, EventPayload, SwarmcastApi } from '../common/ipc-contract';

// The channel names are restated rather than imported: importing any value from the contract
// module would pull zod and every schema into this sandboxed script. The literal types tie
// them to the contract, so a renamed channel fails the type check instead of going silent.
const IPC_INVOKE_CHANNEL: typeof Contract.IPC_INVOKE_CHANNEL = 'swarmcast:invoke';
const IPC_EVENT_CHANNEL: typeof Contract.IPC_EVENT_CHANNEL = 'swarmcast:event';

type AnyListener = (payload: unknown) => void;
const listeners = new Map<string, Set<AnyListener>>();

// One ipcRenderer listener for all events; the renderer never sees the IpcRendererEvent
// (it would give it `sender`, i.e. ipcRenderer itself).
ipcRenderer.on(IPC_EVENT_CHANNEL, (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
  if (typeof name !== 'string') return;
  const set = listeners.get(name);
  if (!set) return;
  for (const listener of [...set]) {
    try {
      listener(payload);
    } catch (err) {
      // A throwing listener must not stop the others.
      console.error(`swarmcast: listener for ${name} threw`, err);
    }
  }
});

// ipcRenderer.invoke rejects with "Error invoking remote method 'swarmcast:invoke': Error: …";
// hand the renderer the core's own message, as browser mode does.
const REMOTE_ERROR_PREFIX = /^Error invoking remote method '[^']*': (?:[A-Za-z]*Error: )?/;

const api: SwarmcastApi = {
  invoke: (name, request) =>
    ipcRenderer.invoke(IPC_INVOKE_CHANNEL, name, request).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(message.replace(REMOTE_ERROR_PREFIX, ''));
    }),
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    if (typeof event !== 'string' || typeof listener !== 'function') {
      throw new TypeError('swarmcast.on(event, listener): bad arguments');
    }
    const wrapped = listener as AnyListener;
    const set = listeners.get(event) ?? new Set<AnyListener>();
    listeners.set(event, set);
    set.add(wrapped);
    return () => {
      set.delete(wrapped);
    };
  },
};

contextBridge.exposeInMainWorld('swarmcast', api);

export type { SwarmcastApi };
