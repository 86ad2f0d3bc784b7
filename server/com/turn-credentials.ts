/**
 * Time-limited TURN credentials in coturn's shared-secret scheme, the "TURN REST API" of
 * draft-uberti-behave-turn-rest-00 (coturn: `--use-auth-secret --static-auth-secret=SECRET`):
 *
 *   username   = `<expiry as unix seconds>:<user>`
 *   credential = base64(HMAC-SHA1(SECRET, username))
 *
 * coturn recomputes the HMAC from the username the client presents and refuses the allocation
 * once the embedded expiry is in the past. So the COM service can hand every viewer fresh
 * credentials without any per-user state shared with the TURN server, and a leaked credential
 * stops working by itself (unlike the static --user pairs, which are valid forever).
 */
import { createHmac } from 'node:crypto';

export interface TurnRestCredentialsInput {
  /** The shared secret coturn was started with (--static-auth-secret). */
  secret: string;
  /** How long the credentials stay valid, in whole seconds. */
  ttlSeconds: number;
  /** The current time in ms since the epoch (injected so tests and callers control the clock). */
  now: number;
  /** The user part of the username (coturn only logs it); default 'swarmcast'. */
  user?: string;
}

export interface TurnRestCredentials {
  username: string;
  credential: string;
  /** When coturn starts refusing them, in ms since the epoch (a whole second). */
  expiresAt: number;
}

export const DEFAULT_TURN_USER = 'swarmcast';

/** Throws unless `ttlSeconds` and `secret` are usable; shared with the COM service's constructor. */
export function checkTurnSecretOptions(secret: string, ttlSeconds: number): void {
  if (typeof secret !== 'string' || secret.length === 0) throw new Error('TURN secret must be non-empty');
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new Error(`TURN ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
}

export function turnRestCredentials(input: TurnRestCredentialsInput): TurnRestCredentials {
  const { secret, ttlSeconds, now } = input;
  const user = input.user ?? DEFAULT_TURN_USER;
  checkTurnSecretOptions(secret, ttlSeconds);
  if (!Number.isFinite(now) || now < 0) throw new Error(`now must be a time in ms, got ${now}`);
  // coturn splits the username at the separator (':' by default): a colon in the user part
  // would make the expiry ambiguous.
  if (user.length === 0 || user.includes(':')) throw new Error('TURN user must be non-empty and without ":"');
  const expirySeconds = Math.floor(now / 1000) + ttlSeconds;
  const username = `${expirySeconds}:${user}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: expirySeconds * 1000 };
}
