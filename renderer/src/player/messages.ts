/** The sentences the user reads when playback cannot go on. */
import { getClient } from '../api';
import type { FailureKind } from '../api/errors';

export function failureMessage(kind: FailureKind, channel: string, detail: string | null): string {
  // The core's words are added unless they only repeat what the message already says.
  const redundant = !detail || (kind === 'offline' && /offline/i.test(detail) && detail.length <= 80);
  const extra = redundant ? '' : ` ${detail}`;
  switch (kind) {
    case 'offline':
      return `Channel “${channel}” is offline.${extra}`;
    case 'unreachable':
      return getClient().isConnected()
        ? `The Swarmcast server cannot be reached.${extra}`
        : 'Lost the connection to the Swarmcast core.';
    default:
      return `Playback of “${channel}” failed.${extra}`;
  }
}

/** mpegts.js ERROR (type, detail, info) as one sentence. */
export function describePlayerError(type: unknown, detail: unknown, info: unknown): string {
  const msg =
    info && typeof info === 'object' && 'msg' in info && typeof info.msg === 'string' ? `: ${info.msg}` : '';
  return `The stream broke (${String(type)} / ${String(detail)}${msg}).`;
}
