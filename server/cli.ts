/**
 * `swarmcast server`: origin, COM service, tracker and STUN (and, as they arrive, the other
 * services) in one process. Settings come from flags, SWARMCAST_* environment variables and a
 * config file (server/config.ts); stdout carries only the one JSON `ready` line.
 */
import { envName, flagName, SETTINGS, toServerOptions } from './config';
import { DEFAULT_DRAIN_MS } from './http-lifecycle';
import type { Logger } from './log';
import { startCommand } from './process-config';
import { startServer } from './run-server';

function usage(): string {
  const rows = SETTINGS.map((s) => {
    const flag = flagName(s);
    const env = s.secret ? `${envName(s.key)}[_FILE]` : envName(s.key);
    const left = flag ? `${flag}${s.arg ? ` ${s.arg}` : ''}` : s.secret ? '(secret: no flag)' : '(no flag)';
    return `  ${left.padEnd(22)} ${env.padEnd(32)} ${s.key.padEnd(13)} ${s.help}`;
  });
  return [
    'usage: swarmcast server [options]',
    '',
    'Each setting is taken from its flag, else its environment variable, else the config file, else',
    'its default. Secrets are never flags: set NAME, or NAME_FILE naming a file that holds the value.',
    'On/off settings read true/false (1/0, yes/no, on/off) from the environment.',
    '',
    `  ${'flag'.padEnd(22)} ${'environment'.padEnd(32)} ${'config key'.padEnd(13)} meaning`,
    `  ${'--config FILE'.padEnd(22)} ${'SWARMCAST_CONFIG'.padEnd(32)} ${''.padEnd(13)} YAML or JSON config file`,
    ...rows,
    `  ${'-h, --help'.padEnd(22)} ${''.padEnd(32)} ${''.padEnd(13)} this text`,
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const started = startCommand(argv, { usage, logName: 'swarmcast-server' });
  if (!started) return;
  const { config, log } = started;
  const server = await startServer(toServerOptions(config, log));
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', http: server.httpUrl, rtmp: server.rtmpUrl, tracker: server.trackerUrl, httpPort: server.httpPort, rtmpPort: server.rtmpPort, stunPort: server.stunPort, publicKey: server.origin.publicKey })}\n`,
  );
  stopOnSignals(log, () => server.close(), config.drainMs);
}

/**
 * SIGTERM/SIGINT: a graceful close (bounded by the drain time, plus a margin for the rest);
 * a second signal, or a close that hangs past the bound, exits at once.
 */
export function stopOnSignals(log: Logger, close: () => Promise<void>, drainMs = DEFAULT_DRAIN_MS): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, drainMs }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took too long: exiting');
      process.exit(1);
    }, drainMs + 5000).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
