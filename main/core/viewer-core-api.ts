/**
 * What the desktop glue (main/electron) and browser mode (`swarmcast web`) need from the
 * viewer core. The core is plain Node: no Electron import anywhere under main/core.
 */
import type { EventName, EventPayload } from '../../common/ipc-contract';

export type CoreEventListener = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export interface ViewerCoreOptions {
  /** Where settings are persisted (a JSON file is kept in it). */
  dataDir: string;
  /** desktop: the Electron app; web: browser mode (IPC over WebSocket); headless: `swarmcast peer`. */
  mode: 'desktop' | 'web' | 'headless';
  version: string;
  /** Overrides the settings' server URL (CLI --server). */
  serverUrl?: string;
  /** Folder of the built renderer, served by the gateway in browser mode. */
  rendererDir?: string;
  /** The demo clip for the embedded local server (packaged apps keep it in resources). */
  demoClip?: string;
  /** Delay-based upload rate control; off only for comparison benchmarks (default on). */
  rateControl?: boolean;
  /** ISP / region hints for the COM's sub-room and the tracker's neighbour choice. */
  hints?: { isp?: string; region?: string };
  log: CoreLog;
}

/** The logging surface the core uses: electron-log in the app, pino in the CLI. */
export interface CoreLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface ViewerCore {
  /** Loopback gateway base URL, with the per-launch token: http://127.0.0.1:PORT/TOKEN/ */
  readonly gatewayUrl: string;
  /** Validates `request` against the contract and runs the call; rejects with a clear Error otherwise. */
  invoke(name: string, request: unknown): Promise<unknown>;
  onEvent(listener: CoreEventListener): () => void;
  close(): Promise<void>;
}
