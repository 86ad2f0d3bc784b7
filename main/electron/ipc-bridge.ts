/**
 * Carries the contract (common/ipc-contract.ts) between the window and the core. Main only
 * checks who is calling; the core validates every payload against the contract's schemas.
 */
import { type BrowserWindow, type IpcMainInvokeEvent, ipcMain } from 'electron';
import { IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL } from '../../common/ipc-contract';
import type { ViewerCore } from '../core/viewer-core-api';
import type { MainLog } from './logging';
import { originOf } from './window';

const MAX_NAME_LENGTH = 64;

export interface IpcBridgeOptions {
  core: ViewerCore;
  /** The window whose main frame may call; read on every call (it may be recreated). */
  window: () => BrowserWindow | null;
  trustedOrigins: readonly string[];
  log: MainLog;
}

/** Installs the invoke handler and the event forwarding; returns a function undoing both. */
export function bridgeCoreToWindow({ core, window, trustedOrigins, log }: IpcBridgeOptions): () => void {
  const senderAllowed = (event: IpcMainInvokeEvent): boolean => {
    const win = window();
    const frame = event.senderFrame;
    if (!win || win.isDestroyed() || !frame) return false;
    // Only our window's top frame, showing our own page: not a subframe, not another
    // window, not a page that somehow navigated elsewhere.
    if (event.sender !== win.webContents || frame !== win.webContents.mainFrame) return false;
    const origin = originOf(frame.url);
    return origin !== null && trustedOrigins.includes(origin);
  };

  ipcMain.handle(IPC_INVOKE_CHANNEL, async (event, name: unknown, request: unknown) => {
    if (!senderAllowed(event)) {
      log.warn('ipc: call from an untrusted frame refused', { url: event.senderFrame?.url ?? null });
      throw new Error('not allowed');
    }
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
      throw new Error('invoke: name must be a short string');
    }
    try {
      return await core.invoke(name, request);
    } catch (err) {
      // Only a message crosses to the renderer (Electron prefixes it with the channel
      // name); stacks and error objects stay in the log.
      const message = err instanceof Error ? err.message : String(err);
      log.debug('ipc: invoke failed', { name, message });
      throw new Error(message);
    }
  });

  const unsubscribe = core.onEvent((name, payload) => {
    const win = window();
    if (!win || win.isDestroyed() || win.webContents.isDestroyed()) return;
    // Events go only to our own page (navigation is blocked, but be sure).
    const origin = originOf(win.webContents.getURL());
    if (origin === null || !trustedOrigins.includes(origin)) return;
    win.webContents.send(IPC_EVENT_CHANNEL, name, payload);
  });

  return () => {
    unsubscribe();
    ipcMain.removeHandler(IPC_INVOKE_CHANNEL);
  };
}
