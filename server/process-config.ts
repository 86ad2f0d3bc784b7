/**
 * The start of every server command (`server`, `logs`, `tracker`): settings from this process's
 * flags, environment and config file (server/config.ts), `--help` answered with the command's
 * usage, and a logger at the resolved level that has already reported the config warnings.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolveServerConfig, type ServerConfig } from './config';
import { createLogger, type Logger } from './log';

export interface CommandStart {
  config: ServerConfig;
  log: Logger;
}

/** Null when `--help` was asked for (the usage is printed). */
export function startCommand(
  argv: string[],
  opts: { usage: () => string; logName: string; defaultHttpPort?: number },
): CommandStart | null {
  const resolved = resolveServerConfig({
    argv,
    env: process.env,
    readFile: (path) => readFileSync(path, 'utf8'),
    fileMode: (path) => statSync(path).mode,
    ...(opts.defaultHttpPort === undefined ? {} : { defaultHttpPort: opts.defaultHttpPort }),
  });
  if (resolved.help) {
    process.stdout.write(`${opts.usage()}\n`);
    return null;
  }
  const log = createLogger(opts.logName);
  // createLogger reads SWARMCAST_LOG_LEVEL itself; the resolved level also honours --log-level and the file.
  log.level = resolved.config.logLevel;
  for (const warning of resolved.warnings) log.warn(warning);
  return { config: resolved.config, log };
}
