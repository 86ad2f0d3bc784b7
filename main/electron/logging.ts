/**
 * electron-log for the main process: one rotating file under userData/logs, console in
 * development, and a CoreLog adapter so the plain-Node core logs through the same sink.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { app, shell } from 'electron';
import log from 'electron-log/main';
import { pino } from 'pino';
import type { CoreLog } from '../../common/logger';
import type { Logger } from '../../server/log';
import { pinoLineToLog } from './pino-lines';

export type MainLog = typeof log;

/** Call once, before anything logs. Returns the logger and the log file path. */
export function setUpLogging(): { log: MainLog; file: string } {
  // The file lives in userData (not electron-log's per-OS default) so logs, settings and
  // caches of one installation sit together; resolved lazily, after any app.setPath.
  log.transports.file.resolvePathFn = () => path.join(app.getPath('userData'), 'logs', 'main.log');
  log.transports.file.level = 'info';
  log.transports.file.maxSize = 5 * 1024 * 1024;
  log.transports.console.level = app.isPackaged ? false : 'debug';
  // Unhandled errors/rejections go to the file; we show our own dialog where it matters.
  log.errorHandler.startCatching({ showDialog: false });
  // Libraries that print to the console (node-media-server's RTMP engine inside the embedded
  // server) land in the same file; electron-log's console transport keeps the original methods.
  Object.assign(console, log.functions);
  // No log.initialize(): that would inject electron-log's own preload into every session,
  // and the renderer gets nothing beyond window.swarmcast.
  return { log, file: log.transports.file.getFile().path };
}

/** The core's logging surface over electron-log, under the `core` scope. */
export function coreLogOver(logger: MainLog): CoreLog {
  const scoped = logger.scope('core');
  const emit =
    (fn: (...params: unknown[]) => void) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (fields && Object.keys(fields).length > 0) fn(msg, fields);
      else fn(msg);
    };
  return {
    info: emit(scoped.info),
    warn: emit(scoped.warn),
    error: emit(scoped.error),
    debug: emit(scoped.debug),
  };
}

/**
 * A pino logger (what the server parts take) whose lines go to electron-log under `scope`,
 * so the embedded server logs into the app's log file.
 */
export function pinoOver(logger: MainLog, scope: string): Logger {
  const scoped = logger.scope(scope);
  const sinks = { error: scoped.error, warn: scoped.warn, info: scoped.info };
  return pino(
    { level: 'info', base: null },
    {
      write(line: string) {
        const { level, msg, fields } = pinoLineToLog(line);
        if (fields) sinks[level](msg, fields);
        else sinks[level](msg);
      },
    },
  );
}

/**
 * The core's 'app.openLogFolder' (ViewerCoreOptions.openLogFolder): shows the folder holding
 * electron-log's file in the OS file manager. `opened: false` (with the path, so the page can
 * show it) when the OS has no handler; the reason goes to the log.
 */
export function logFolderOpener(logger: MainLog): () => Promise<{ opened: boolean; path: string | null }> {
  return async () => {
    const dir = path.dirname(logger.transports.file.getFile().path);
    try {
      await mkdir(dir, { recursive: true });
      // shell.openPath resolves to '' on success, else to an error message.
      const error = await shell.openPath(dir);
      if (error) {
        logger.warn('could not open the log folder', { dir, error });
        return { opened: false, path: dir };
      }
      return { opened: true, path: dir };
    } catch (err) {
      logger.warn('could not open the log folder', { dir, error: String(err) });
      return { opened: false, path: dir };
    }
  };
}
