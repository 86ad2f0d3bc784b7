/**
 * `swarmcast tracker`: a tracker shard on its own. It reads the same flags, SWARMCAST_* variables
 * and config file as `swarmcast server` (server/config.ts) and uses those that concern it:
 * host, httpPort (default 8081), publicUrl, redis (+ SWARMCAST_REDIS_PASSWORD[_FILE]), ticketKey
 * or ticketKeyFile (the server's public key: `publicKey` in its ready line, or its key file),
 * shardId, shardCapacity, metrics, metricsToken, drainMs, logLevel. stdout carries only the one JSON `ready` line.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stopOnSignals } from '../cli';
import { ConfigError } from '../config';
import { startCommand } from '../process-config';
import { DEFAULT_SHARD_CAPACITY, startShard } from './run-shard';

const USAGE = `usage: swarmcast tracker --redis URL --ticket-key KEY|--ticket-key-file FILE [options]
  a tracker shard: viewers' sub-rooms (WebSocket /tracker), registered in Redis for the COMs.
  --redis URL             SWARMCAST_REDIS            Redis shared with the COMs (password: SWARMCAST_REDIS_PASSWORD[_FILE])
  --ticket-key KEY        SWARMCAST_TICKET_KEY       the server's public key (SPKI DER, base64; "publicKey" in its ready line)
  --ticket-key-file FILE  SWARMCAST_TICKET_KEY_FILE  that key from a file: PEM, or the base64 text
  --public-url URL        SWARMCAST_PUBLIC_URL       http(s) base URL viewers reach this shard at (its tracker is URL/tracker)
  --host ADDR             SWARMCAST_HOST             address to listen on (default 0.0.0.0)
  --http-port N           SWARMCAST_HTTP_PORT        port (default 8081; 0 = any)
  --shard-id ID           SWARMCAST_SHARD_ID         id in the registry (default HOSTNAME-PORT)
  --capacity N            SWARMCAST_SHARD_CAPACITY   members it is meant to hold (default ${DEFAULT_SHARD_CAPACITY})
  --no-metrics, --drain-ms MS, --log-level LEVEL, --config FILE   as for \`swarmcast server --help\`
  (GET /metrics: Prometheus, bearer token from SWARMCAST_METRICS_TOKEN[_FILE] when set; GET /healthz)`;

/** The key tickets are checked with: base64 SPKI text, or a file holding PEM or that text. */
export function loadTicketKey(
  text: string | undefined,
  file: string | undefined,
  read = readFileSync,
): KeyObject {
  if (text !== undefined && file !== undefined)
    throw new ConfigError(['set ticketKey or ticketKeyFile, not both']);
  const source = file !== undefined ? read(file, 'utf8').trim() : text;
  if (source === undefined) {
    throw new ConfigError([
      'a tracker shard needs the server key to check join tickets: --ticket-key KEY or --ticket-key-file FILE',
    ]);
  }
  try {
    const key = source.startsWith('-----BEGIN')
      ? createPublicKey(source)
      : createPublicKey({ key: Buffer.from(source, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${key.asymmetricKeyType}`);
    return key;
  } catch (err) {
    throw new ConfigError([`ticket key${file ? ` in ${file}` : ''} is not an Ed25519 key: ${String(err)}`]);
  }
}

export async function main(argv: string[]): Promise<void> {
  const started = startCommand(argv, {
    usage: () => USAGE,
    logName: 'swarmcast-tracker',
    defaultHttpPort: 8081,
  });
  if (!started) return;
  const { config, log } = started;
  if (config.redis === undefined)
    throw new ConfigError(['a tracker shard needs --redis URL (SWARMCAST_REDIS)']);
  const ticketKey = loadTicketKey(config.ticketKey, config.ticketKeyFile);
  const shard = await startShard({
    host: config.host,
    port: config.httpPort,
    publicUrl: config.publicUrl,
    redis: { url: config.redis, password: config.redisPassword },
    ticketKey,
    id: config.shardId,
    capacity: config.shardCapacity,
    drainMs: config.drainMs,
    metrics: config.metrics,
    metricsToken: config.metricsToken,
    log,
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', tracker: shard.url, id: shard.id, httpPort: shard.port })}\n`,
  );
  stopOnSignals(log, () => shard.close(), config.drainMs);
}
