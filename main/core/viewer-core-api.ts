/**
 * What the desktop glue (main/electron) and browser mode (`swarmcast web`) need from the
 * viewer core. The core is plain Node: no Electron import anywhere under main/core.
 */
import type { EventName, EventPayload } from '../../common/ipc-contract';
import type { CoreLog } from '../../common/logger';
import type { ReportQueueOptions } from './report/report-queue';

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
  /**
   * The entry point's local server (demo channel), started on first use: asked only when
   * neither `serverUrl` nor the settings name a server.
   */
  localServerUrl?: () => Promise<string>;
  /** Delay-based upload rate control; off only for comparison benchmarks (default on). */
  rateControl?: boolean;
  /** ISP / region hints for the COM's sub-room and the tracker's neighbour choice. */
  hints?: { isp?: string; region?: string };
  /** A pre-join not renewed for this long is dropped (default 60 s; tests shorten it). */
  warmTtlMs?: number;
  /** Quality-report outbox overrides (tests): period between reports, queue bounds, transport. */
  reports?: Omit<ReportQueueOptions, 'log'> & { periodMs?: number };
  /** Desktop only: shows the log folder in the OS file manager (browser mode has none). */
  openLogFolder?: () => Promise<{ opened: boolean; path: string | null }>;
  /**
   * Told whether some played channel fetches without peers (low latency or P2P off: the live
   * edge from the CDN tag by tag, the core's busiest path), at the first pass and on each
   * change; the entry points leave V8 as it comes for it (main/viewer-runtime.ts).
   */
  onCdnOnly?: (cdnOnly: boolean) => void;
  log: CoreLog;
}

export interface ViewerCore {
  /** Loopback gateway base URL, with the per-launch token: http://127.0.0.1:PORT/TOKEN/ */
  readonly gatewayUrl: string;
  /** Validates `request` against the contract and runs the call; rejects with a clear Error otherwise. */
  invoke(name: string, request: unknown): Promise<unknown>;
  onEvent(listener: CoreEventListener): () => void;
  /** Pushes an event to the renderer(s) (the desktop glue forwards swarmcast:// links this way). */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void;
  /** Ends every player session (the page that opened them reloaded or crashed). */
  closeAllPlayers(reason: string): void;
  close(): Promise<void>;
}
