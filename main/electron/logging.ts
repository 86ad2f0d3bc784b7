/**
 * electron-log for the main process: one rotating file under userData/logs, console in
 * development, and a CoreLog adapter so the plain-Node core logs through the same sink.
 */
import path from 'node:path';
import { app } from 'electron';
import log from 'electron-log/main';
import { pino } from 'pino';
import type { CoreLog } from '../../common/logger';
import type { Logger } from '../../server/log';

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
  return pino(
    { level: 'info', base: null },
    {
      write(line: string) {
        try {
          const { msg, level, ...fields } = JSON.parse(line) as { msg?: string; level?: number };
          const fn = (level ?? 30) >= 50 ? scoped.error : (level ?? 30) >= 40 ? scoped.warn : scoped.info;
          fn(msg ?? '', fields);
        } catch {
          scoped.info(line.trim());
        }
      },
    },
  );
}
