/**
 * One ioredis connection for a shard or a COM: commands time out instead of queueing forever
 * while Redis is away (callers fall back or retry on their next period), and reconnection goes
 * on in the background.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../log';

export interface RedisSettings {
  /** redis://[user@]host:port[/db] or rediss:// (TLS). */
  url: string;
  /** From SWARMCAST_REDIS_PASSWORD[_FILE]; overrides a password in the URL. */
  password?: string;
}

export async function connectRedis(settings: RedisSettings, log: Logger, name: string): Promise<Redis> {
  const redis = new Redis(settings.url, {
    password: settings.password,
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(2000, 100 * times),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: err.message }, 'redis: connection problem (retrying)');
  });
  redis.on('ready', () => {
    if (down) log.info('redis: connected again');
    down = false;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `cannot reach redis at ${redactedUrl(settings.url)}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return redis;
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(unparsable URL)';
  }
}
