/**
 * Updates through electron-updater, off unless the build configured a feed.
 *
 * The feed is fixed at build time: with SWARMCAST_UPDATE_URL set, `npm run dist`
 * (electron-builder.config.mjs) adds a `generic` publish provider, and electron-builder writes
 * its address to <resources>/app-update.yml. Without that file there is no feed and nothing
 * here runs: no request, no timer (development runs, and every build made without the setting).
 *
 * With a feed: a check shortly after start and every few hours; nothing is downloaded or
 * installed without asking. An available update is offered in a dialog (download or not);
 * a downloaded one asks again (restart now, install on quit, or not now). Feed errors only go
 * to the log (scope `updater`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { app, type BrowserWindow, dialog, type MessageBoxOptions } from 'electron';
import type { MainLog } from './logging';

const FIRST_CHECK_DELAY_MS = 30_000;
const CHECK_EVERY_MS = 6 * 60 * 60 * 1000;

export interface UpdaterOptions {
  log: MainLog;
  /** The window dialogs attach to (may be null: then they are free-standing). */
  window: () => BrowserWindow | null;
}

/** <resources>/app-update.yml, written by electron-builder only when the build had a feed. */
export function updateFeedFile(): string | null {
  if (!app.isPackaged) return null;
  const file = path.join(process.resourcesPath, 'app-update.yml');
  return existsSync(file) ? file : null;
}

/** Starts the update checks when the build has a feed; returns a function that stops them. */
export async function startUpdater({ log, window }: UpdaterOptions): Promise<() => void> {
  const scoped = log.scope('updater');
  const feed = updateFeedFile();
  if (!feed) {
    scoped.info(
      app.isPackaged ? 'updates off: this build has no update feed' : 'updates off: development run',
    );
    return () => undefined;
  }
  // Loaded only when there is a feed. electron-updater is CommonJS whose `autoUpdater` is a
  // getter Node's ESM loader cannot see as a named export: take it from the default export.
  const { autoUpdater } = (await import('electron-updater')).default;
  autoUpdater.logger = scoped;
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = false;
  autoUpdater.allowDowngrade = false;
  autoUpdater.allowPrerelease = false;

  let asking = false;
  const ask = async (options: MessageBoxOptions): Promise<number> => {
    const win = window();
    const box = { noLink: true, cancelId: options.buttons ? options.buttons.length - 1 : 0, ...options };
    const result =
      win && !win.isDestroyed() ? await dialog.showMessageBox(win, box) : await dialog.showMessageBox(box);
    return result.response;
  };

  autoUpdater.on('update-available', (info) => {
    scoped.info('update available', { version: info.version });
    if (asking) return;
    asking = true;
    void ask({
      type: 'info',
      title: 'Update available',
      message: `Swarmcast ${info.version} is available (you have ${app.getVersion()}).`,
      detail: 'Download it now? You will be asked again before it is installed.',
      buttons: ['Download', 'Not now'],
      defaultId: 0,
    })
      .then((choice) => {
        if (choice !== 0) {
          scoped.info('update declined', { version: info.version });
          return;
        }
        return autoUpdater.downloadUpdate().then(() => undefined);
      })
      .catch((err: unknown) => scoped.warn('update download failed', { error: String(err) }))
      .finally(() => {
        asking = false;
      });
  });

  autoUpdater.on('update-downloaded', (info) => {
    scoped.info('update downloaded', { version: info.version });
    void ask({
      type: 'info',
      title: 'Update ready',
      message: `Swarmcast ${info.version} is ready to install.`,
      detail: 'Restart now to install it, or have it installed when you quit Swarmcast.',
      buttons: ['Restart now', 'Install when I quit', 'Not now'],
      defaultId: 0,
    })
      .then((choice) => {
        if (choice === 0) {
          scoped.info('installing update now', { version: info.version });
          autoUpdater.quitAndInstall();
        } else if (choice === 1) {
          scoped.info('update will install on quit', { version: info.version });
          autoUpdater.autoInstallOnAppQuit = true;
        } else {
          scoped.info('update postponed', { version: info.version });
        }
      })
      .catch((err: unknown) => scoped.warn('update dialog failed', { error: String(err) }));
  });

  autoUpdater.on('error', (err) => scoped.warn('update check failed', { error: err.message }));

  const check = (): void => {
    autoUpdater
      .checkForUpdates()
      .catch((err: unknown) => scoped.warn('update check failed', { error: String(err) }));
  };
  scoped.info('updates on', { feed });
  const first = setTimeout(check, FIRST_CHECK_DELAY_MS);
  const every = setInterval(check, CHECK_EVERY_MS);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
