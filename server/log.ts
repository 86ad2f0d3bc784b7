/**
 * Structured logging for the servers and the headless CLI: pino, one JSON object a line on
 * stderr (stdout is kept for the data a command prints, such as `swarmcast peer` stats).
 */
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(name: string): Logger {
  const level = process.env.SWARMCAST_LOG_LEVEL ?? 'info';
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
