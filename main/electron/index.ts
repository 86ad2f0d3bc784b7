/**
 * Swarmcast desktop app, main process: thin glue between Electron and the plain-Node viewer
 * core. Lifecycle, logging, the app:// scheme with its CSP, one hardened window, and the IPC
 * bridge. No business logic lives here.
 */
import path from 'node:path';
import { app, type BrowserWindow, dialog, session } from 'electron';
import { startViewerCore } from '../core/viewer-core';
import type { ViewerCore } from '../core/viewer-core-api';
import { localServer } from '../local-server';
import { leanViewerRuntime, setLeanRuntime } from '../viewer-runtime';
import {
  APP_ENTRY_URL,
  APP_ORIGIN,
  applyCspToDevServer,
  registerAppScheme,
  serveAppScheme,
} from './app-protocol';
import { contentSecurityPolicy, gatewayOriginOf } from './content-security';
import { setUpDeepLinks } from './deep-links';
import { bridgeCoreToWindow } from './ipc-bridge';
import { coreLogOver, logFolderOpener, pinoOver, setUpLogging } from './logging';
import { startUpdater } from './updater';
import { createMainWindow, guardAllWebContents, restrictPermissions } from './window';

const CLOSE_TIMEOUT_MS = 5000;

// Built layout (electron-vite): out/main/index.js, out/preload/index.cjs, out/renderer/.
const outDir = path.resolve(import.meta.dirname, '..');
const preloadPath = path.join(outDir, 'preload', 'index.cjs');
const rendererDir = path.join(outDir, 'renderer');
// electron-vite sets this in `electron-vite dev` only; a packaged app never uses it.
const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const devServerOrigin = devServerUrl ? new URL(devServerUrl).origin : undefined;
const trustedOrigins = devServerOrigin ? [APP_ORIGIN, devServerOrigin] : [APP_ORIGIN];

// Both must happen before 'ready'.
registerAppScheme();
app.enableSandbox();

const { log, file: logFile } = setUpLogging();
leanViewerRuntime((msg) => log.warn(msg));

// One instance per user: a second launch focuses the first window. (The core's gateway
// listens on port 0, so two copies with separate userData dirs would still coexist.)
if (!app.requestSingleInstanceLock()) {
  log.info('another instance is running; handing over to it');
  app.quit();
} else {
  void run();
}

async function run(): Promise<void> {
  log.info('starting', { version: app.getVersion(), electron: process.versions.electron, logFile });
  let win: BrowserWindow | null = null;
  let unbridge: (() => void) | null = null;
  let windowAllowed = false; // set once the core is up and the first window may open
  let shutdown: 'running' | 'closing' | 'done' = 'running';

  // A second launch, or a swarmcast:// link, brings the window up (reopens it on macOS).
  const showWindow = (): void => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.show();
      win.focus();
    } else if (windowAllowed && shutdown === 'running') {
      openWindow();
    }
  };
  // Registered before 'ready': macOS sends the link that launched the app early.
  const deepLinks = setUpDeepLinks({ log, show: showWindow });

  guardAllWebContents();

  // The embedded local server (demo channel) for when no server is configured; it loops the
  // demo clip shipped in resources (or in the checkout), and its logs go to the app's log file.
  const embedded = localServer({
    dataDir: app.getPath('userData'),
    demoClip: app.isPackaged
      ? path.join(process.resourcesPath, 'demo.flv')
      : path.join(app.getAppPath(), 'assets', 'demo.flv'),
    log: pinoOver(log, 'embedded-origin'),
  });

  // Started before 'ready' (the core is plain Node); Promise.resolve().then also catches a
  // synchronous throw. The rejection is handled below, after 'ready', so it is never unhandled.
  const corePromise: Promise<ViewerCore> = Promise.resolve().then(() =>
    startViewerCore({
      dataDir: app.getPath('userData'),
      mode: 'desktop',
      version: app.getVersion(),
      rendererDir: undefined,
      localServerUrl: () => embedded.url(),
      openLogFolder: logFolderOpener(log),
      onCdnOnly: (cdnOnly) => setLeanRuntime(!cdnOnly),
      log: coreLogOver(log),
    }),
  );
  corePromise.catch(() => undefined);

  const openWindow = (): void => {
    win = createMainWindow({
      preloadPath,
      url: devServerUrl ?? APP_ENTRY_URL,
      trustedOrigins,
      ...(process.platform === 'linux'
        ? { iconPath: path.join(app.getAppPath(), 'assets', 'icon.png') }
        : {}),
    });
    win.on('closed', () => {
      win = null;
      deepLinks.setTarget(null);
    });
    // swarmcast:// links reach the page once it has loaded (its listeners are installed by
    // then); until then, and while it reloads, they wait in the queue.
    win.webContents.on('did-finish-load', () => {
      void corePromise
        .then((core) => deepLinks.setTarget((link) => core.emit('app.openChannel', link)))
        .catch(() => undefined);
    });
    win.webContents.on('did-fail-load', (_event, code, description, url, isMainFrame) => {
      if (isMainFrame) log.error('window failed to load', { code, description, url });
    });
    // The page's player sessions die with it: a crash, or a reload (which starts a new page
    // that opens its own) must not leave sessions, streams and swarms running.
    win.webContents.on('render-process-gone', (_event, details) => {
      log.error('renderer process gone', { reason: details.reason, exitCode: details.exitCode });
      void corePromise.then((core) => core.closeAllPlayers('renderer gone')).catch(() => undefined);
    });
    win.webContents.on('did-start-navigation', (details) => {
      if (!details.isMainFrame || details.isSameDocument) return;
      deepLinks.setTarget(null);
      void corePromise.then((core) => core.closeAllPlayers('page reloaded')).catch(() => undefined);
    });
  };

  app.on('second-instance', showWindow);

  // Shutdown: hold the quit until the core has closed its sessions, gateway and embedded
  // server (bounded, so a stuck close cannot keep the app alive).
  app.on('will-quit', (event) => {
    if (shutdown === 'done') return;
    event.preventDefault();
    if (shutdown === 'closing') return;
    shutdown = 'closing';
    void closeCore().finally(() => {
      shutdown = 'done';
      log.info('bye');
      app.quit();
    });
  });
  const closeCore = async (): Promise<void> => {
    unbridge?.();
    const core = await corePromise.catch(() => null);
    if (!core) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        log.warn('core did not close in time; quitting anyway');
        resolve();
      }, CLOSE_TIMEOUT_MS);
    });
    try {
      await Promise.race([core.close().then(() => embedded.close()), timeout]);
    } catch (err) {
      log.error('core close failed', { error: String(err) });
    } finally {
      clearTimeout(timer);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => app.quit());

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  await app.whenReady();

  let core: ViewerCore;
  let csp: string;
  try {
    core = await corePromise;
    csp = contentSecurityPolicy({ gatewayOrigin: gatewayOriginOf(core.gatewayUrl), devServerOrigin });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error('viewer core failed to start', {
      error: err instanceof Error ? (err.stack ?? message) : message,
    });
    dialog.showErrorBox(
      'Swarmcast could not start',
      `${message}\n\nDetails are in the log file:\n${logFile}`,
    );
    // Close whatever did start (if the core came up with a bad gateway URL), then leave
    // without the will-quit dance: there is no window and nothing else to wait for.
    await closeCore();
    app.exit(1);
    return;
  }
  log.info('core started', { gatewayOrigin: gatewayOriginOf(core.gatewayUrl) });

  const ses = session.defaultSession;
  restrictPermissions(ses, trustedOrigins);
  serveAppScheme(ses, rendererDir, () => csp);
  if (devServerOrigin) applyCspToDevServer(ses, devServerOrigin, () => csp);
  unbridge = bridgeCoreToWindow({ core, window: () => win, trustedOrigins, log });

  app.on('activate', () => {
    // macOS: clicking the dock icon with no window open reopens it.
    if (!win && shutdown === 'running') openWindow();
  });
  windowAllowed = true;
  openWindow();

  // Off unless this build has an update feed (updater.ts); never installs without asking.
  startUpdater({ log, window: () => win }).catch((err: unknown) =>
    log.warn('updater failed to start', { error: String(err) }),
  );
}
