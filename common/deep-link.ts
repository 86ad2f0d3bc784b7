/**
 * swarmcast:// links (pure; the desktop glue registers the scheme and hands links here).
 *
 *   swarmcast://channel/<id>   swarmcast://<id>
 *
 * A single trailing slash is tolerated; a query string or fragment is ignored. The id must be a
 * channel id (CHANNEL_ID_PATTERN: lower-case letters, digits, `_` and `-`). Everything else is
 * refused: other schemes, missing `//`, extra path segments, `..`, percent-escapes (so nothing
 * decodes into a separator), user info, ports, whitespace or control characters, over-long input.
 */
import { CHANNEL_ID_PATTERN } from './manifest';

export const DEEP_LINK_SCHEME = 'swarmcast';
/** Longer input is refused before it is looked at (a link carries a 64-char id at most). */
export const MAX_DEEP_LINK_LENGTH = 1024;

export interface DeepLink {
  channel: string;
}

const PREFIX = `${DEEP_LINK_SCHEME}://`;

export function parseDeepLink(input: unknown): DeepLink | null {
  if (typeof input !== 'string' || input.length > MAX_DEEP_LINK_LENGTH) return null;
  // The scheme is case-insensitive (RFC 3986 §3.1); the rest is not.
  if (input.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return null;
  let rest = input.slice(PREFIX.length);
  const cut = rest.search(/[?#]/);
  if (cut >= 0) rest = rest.slice(0, cut);
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  const parts = rest.split('/');
  let id: string | undefined;
  if (parts.length === 1) id = parts[0];
  else if (parts.length === 2 && parts[0] === 'channel') id = parts[1];
  else return null;
  return id !== undefined && CHANNEL_ID_PATTERN.test(id) ? { channel: id } : null;
}

/**
 * The link in a command line (Windows and Linux start the app, or hand the running instance,
 * `swarmcast <link>` among Chromium's own switches): the first argument that is a valid link.
 */
export function deepLinkFromArgv(argv: readonly string[]): DeepLink | null {
  for (const arg of argv) {
    if (typeof arg !== 'string' || arg.slice(0, PREFIX.length).toLowerCase() !== PREFIX) continue;
    const link = parseDeepLink(arg);
    if (link) return link;
  }
  return null;
}
