/** The sentences the user reads when playback cannot go on: what happened, and what to do. */
import { t } from '../i18n';
import type { Failure } from '../stores/player-store';

export interface FailureText {
  title: string;
  what: string;
  todo: string;
}

export function failureText(failure: Failure, channel: string): FailureText {
  switch (failure) {
    case 'offline':
      return {
        title: t('failure.offlineTitle'),
        what: t('failure.offline', { channel }),
        todo: t('failure.offlineWhat'),
      };
    case 'unreachable':
      return {
        title: t('failure.unreachableTitle'),
        what: t('failure.unreachable'),
        todo: t('failure.unreachableWhat'),
      };
    case 'core':
      return { title: t('failure.coreTitle'), what: t('failure.core'), todo: t('failure.coreWhat') };
    case 'error':
      return {
        title: t('failure.errorTitle'),
        what: t('failure.error', { channel }),
        todo: t('failure.errorWhat'),
      };
    default: {
      const never: never = failure;
      return never;
    }
  }
}

/** mpegts.js ERROR (type, detail, info) as one line for the details. */
export function describePlayerError(type: unknown, detail: unknown, info: unknown): string {
  const msg =
    info && typeof info === 'object' && 'msg' in info && typeof info.msg === 'string' ? `: ${info.msg}` : '';
  return `The stream broke (${String(type)} / ${String(detail)}${msg}).`;
}
