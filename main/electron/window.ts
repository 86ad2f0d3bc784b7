/**
 * The one BrowserWindow and the guards every web contents gets: no navigation, no new
 * windows, no <webview>, no permissions but fullscreen (and loopback network access to the
 * gateway, which newer Chromium puts behind a permission).
 */
import { app, BrowserWindow, type Session, shell } from 'electron';

export interface WindowOptions {
  preloadPath: string;
  /** app://swarmcast/index.html, or the dev server URL in development. */
  url: string;
  /** Origins whose pages are ours (the app scheme, plus the dev server in development). */
  trustedOrigins: readonly string[];
  iconPath?: string;
}

/** `scheme://host[:port]` of a URL, or null. Built by hand because Node's URL reports the
 * opaque origin "null" for app:// (Chromium knows the scheme is standard; Node does not). */
export function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.host ? `${parsed.protocol}//${parsed.host}`.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** Applies to every web contents the app ever creates (the window, and anything else). */
export function guardAllWebContents(): void {
  app.on('web-contents-created', (_event, contents) => {
    // The UI is a single page: any navigation away from it is an attack or a bug.
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      // Links to the project's web pages open in the user's browser; nothing else opens.
      if (/^https:\/\//i.test(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
  });
}

/** Permission policy for `session`: deny everything except fullscreen for our own pages. */
export function restrictPermissions(session: Session, trustedOrigins: readonly string[]): void {
  const trusted = (url: string | undefined): boolean => {
    const origin = url ? originOf(url) : null;
    return origin !== null && trustedOrigins.includes(origin);
  };
  // Chromium's Local Network Access names (not yet in these typings): the page talks to the
  // loopback gateway, so our own origin may reach loopback; no other origin may.
  const allowed = new Set<string>(['fullscreen', 'local-network-access', 'loopback-network']);
  session.setPermissionRequestHandler((contents, permission, callback, details) => {
    callback(allowed.has(permission) && trusted(details.requestingUrl ?? contents.getURL()));
  });
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) => {
    return allowed.has(permission) && trusted(requestingOrigin);
  });
  session.setDevicePermissionHandler(() => false);
  session.setDisplayMediaRequestHandler((_request, callback) => callback({}));
  session.on('will-download', (event) => event.preventDefault());
}

export function createMainWindow(opts: WindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 760,
    minWidth: 640,
    minHeight: 400,
    show: false,
    backgroundColor: '#000000',
    title: 'Swarmcast',
    ...(opts.iconPath ? { icon: opts.iconPath } : {}),
    webPreferences: {
      preload: opts.preloadPath,
      // The renderer gets no Node, runs in Chromium's sandbox, and sees the preload's
      // world only through contextBridge.
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      // A viewer app: the user started it to watch, so playback may start with sound.
      autoplayPolicy: 'no-user-gesture-required',
    },
  });
  win.setMenuBarVisibility(false);
  win.once('ready-to-show', () => win.show());
  // Failures surface as 'did-fail-load' (logged by the caller); the promise adds nothing.
  win.loadURL(opts.url).catch(() => undefined);
  return win;
}
