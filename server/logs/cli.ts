/**
 * `swarmcast logs`: a log server on its own (viewers' quality reports in, Prometheus metrics
 * out). It reads the same flags, SWARMCAST_* variables and config file as `swarmcast server`
 * (server/config.ts) and uses the ones that concern it: host, httpPort (default 8090),
 * metricsToken, drainMs, logLevel; the origin's settings are ignored.
 */
import { stopOnSignals } from '../cli';
import { startCommand } from '../process-config';
import { startLogService } from './run-logs';

const USAGE = `usage: swarmcast logs [--config FILE] [--host ADDR] [--http-port N] [--drain-ms MS] [--log-level L]
  a log server on its own: POST /api/reports (viewers' quality reports), GET /metrics, GET /healthz.
  Settings as for \`swarmcast server --help\` (flags > SWARMCAST_* environment > config file);
  the metrics token only from SWARMCAST_METRICS_TOKEN[_FILE] or the file. Default port 8090.`;

export async function main(argv: string[]): Promise<void> {
  const started = startCommand(argv, {
    usage: () => USAGE,
    logName: 'swarmcast-logs',
    defaultHttpPort: 8090,
  });
  if (!started) return;
  const { config, log } = started;
  const service = await startLogService({
    host: config.host,
    port: config.httpPort,
    metricsToken: config.metricsToken,
    drainMs: config.drainMs,
    log,
  });
  process.stdout.write(`${JSON.stringify({ event: 'ready', http: service.url, httpPort: service.port })}\n`);
  stopOnSignals(log, () => service.close(), config.drainMs);
}
