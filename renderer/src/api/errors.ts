/** Errors the renderer tells apart when a call to the core fails. */

/** The link to the viewer core is down (browser mode: the WebSocket is closed). */
export class DisconnectedError extends Error {
  constructor(message = 'The Swarmcast core is not reachable') {
    super(message);
    this.name = 'DisconnectedError';
  }
}

export type FailureKind = 'unreachable' | 'offline' | 'error';

/** The message of an Electron invoke rejection carries a prefix; keep the core's own words. */
export function errorText(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return raw.replace(/^Error invoking remote method '[^']*': (Error: )?/, '').trim() || 'unknown error';
}

/** Sorts a failed call into what the user is told: core/server unreachable, channel offline, or other. */
export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof DisconnectedError) return 'unreachable';
  const text = errorText(err);
  if (/offline|not live|not found|no such channel|unknown channel|404/i.test(text)) return 'offline';
  if (
    /unreachable|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|fetch failed|timed? ?out|network/i.test(text)
  ) {
    return 'unreachable';
  }
  return 'error';
}
