/**
 * swarmcast:// links into the app. The OS hands a link over in one of three ways:
 *   - macOS: the `open-url` event (also for the link that launched the app, before 'ready');
 *   - Windows / Linux, app not running: the link is in this process's argv;
 *   - Windows / Linux, app running: the new process loses the single-instance lock and quits;
 *     this one gets its argv in `second-instance`.
 * Links are parsed by common/deep-link.ts (anything else is dropped with a log line) and queued
 * until the core is up and the window's page has loaded (its listeners are installed before
 * the load event), then delivered in order.
 */
import path from 'node:path';
import { app } from 'electron';
import { DEEP_LINK_SCHEME, type DeepLink, deepLinkFromArgv, parseDeepLink } from '../../common/deep-link';
import type { MainLog } from './logging';

/** Links kept while nothing can take them; older ones are dropped first (only the last plays). */
const MAX_QUEUED = 8;

export interface DeepLinks {
  /**
   * Where links go from now on (the core's 'app.openChannel' event), or null while no page can
   * take them (window closed or reloading): links are queued meanwhile.
   */
  setTarget(deliver: ((link: DeepLink) => void) | null): void;
}

export interface DeepLinkOptions {
  log: MainLog;
  /** Brings the window up (restore, focus, or reopen it on macOS) when a link arrives. */
  show: () => void;
}

/** Call once, before 'ready' (macOS sends the launching link's `open-url` early). */
export function setUpDeepLinks({ log, show }: DeepLinkOptions): DeepLinks {
  registerProtocolClient(log);

  const queue: DeepLink[] = [];
  let target: ((link: DeepLink) => void) | null = null;

  const flush = (): void => {
    while (target && queue.length > 0) {
      const link = queue.shift() as DeepLink;
      try {
        target(link);
        log.info('deep link: opening channel', { channel: link.channel });
      } catch (err) {
        log.warn('deep link: delivery failed', { channel: link.channel, error: String(err) });
      }
    }
  };

  const accept = (link: DeepLink | null, source: string, raw?: string): void => {
    if (!link) {
      // Never log a whole attacker-chosen string: its length is capped.
      if (raw !== undefined) log.warn('deep link: refused', { source, link: raw.slice(0, 200) });
      return;
    }
    queue.push(link);
    if (queue.length > MAX_QUEUED) queue.splice(0, queue.length - MAX_QUEUED);
    flush();
    show();
  };

  app.on('open-url', (event, url) => {
    event.preventDefault();
    accept(parseDeepLink(url), 'open-url', url);
  });

  app.on('second-instance', (_event, argv) => {
    const raw = argv.find((arg) => arg.toLowerCase().startsWith(`${DEEP_LINK_SCHEME}:`));
    if (raw !== undefined) accept(deepLinkFromArgv(argv), 'second-instance', raw);
  });

  // Windows / Linux: started by a link (macOS puts none in argv; it sends open-url instead).
  const launchRaw = process.argv.find((arg) => arg.toLowerCase().startsWith(`${DEEP_LINK_SCHEME}:`));
  if (launchRaw !== undefined) {
    const link = deepLinkFromArgv(process.argv);
    if (link) queue.push(link);
    else log.warn('deep link: refused', { source: 'argv', link: launchRaw.slice(0, 200) });
  }

  return {
    setTarget(deliver) {
      target = deliver;
      flush();
    },
  };
}

/**
 * Makes this app the handler of swarmcast:// links. Packaged builds also declare the scheme in
 * their installer / Info.plist / .desktop file (electron-builder.yml `protocols`). In
 * development (`electron .`) Windows and Linux must start Electron with the app's folder, so
 * the registration carries it as an argument.
 */
function registerProtocolClient(log: MainLog): void {
  let ok: boolean;
  const appDir = process.argv[1];
  if (process.defaultApp && appDir !== undefined && process.platform !== 'darwin') {
    ok = app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME, process.execPath, [path.resolve(appDir)]);
  } else {
    ok = app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME);
  }
  if (ok) log.info('deep link: registered as the swarmcast:// handler');
  // Linux without a .desktop file (development) cannot register; links then do nothing.
  else log.warn('deep link: could not register as the swarmcast:// handler');
}
