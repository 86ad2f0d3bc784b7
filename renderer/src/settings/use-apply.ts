/**
 * Sends one field's patch through 'settings.set' and keeps what the user should see about it:
 * saving, applied (for a moment), or the core's reason for refusing the value.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SettingsPatch } from '../../../common/ipc-contract';
import { errorText } from '../api/errors';
import { t } from '../i18n';
import { patchSettings } from '../stores/settings-store';

export type ApplyStatus =
  | { kind: 'idle' }
  | { kind: 'saving' }
  | { kind: 'applied' }
  | { kind: 'error'; message: string };

const APPLIED_SHOWN_MS = 1800;

/** The core's "invalid settings.set request: cacheMB: Too big…" → "cacheMB: Too big…". */
export function coreErrorText(err: unknown): string {
  return errorText(err).replace(/^invalid settings\.set request:\s*/i, '');
}

export function useApply(): {
  status: ApplyStatus;
  apply: (patch: SettingsPatch) => Promise<boolean>;
  fail: (message: string) => void;
  reset: () => void;
} {
  const [status, setStatus] = useState<ApplyStatus>({ kind: 'idle' });
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const seq = useRef(0);

  const clearTimer = useCallback(() => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
  }, []);
  useEffect(() => clearTimer, [clearTimer]);

  const apply = useCallback(
    async (patch: SettingsPatch): Promise<boolean> => {
      clearTimer();
      const mine = ++seq.current;
      setStatus({ kind: 'saving' });
      try {
        await patchSettings(patch);
        if (mine !== seq.current) return true;
        setStatus({ kind: 'applied' });
        timer.current = setTimeout(() => setStatus({ kind: 'idle' }), APPLIED_SHOWN_MS);
        return true;
      } catch (err) {
        if (mine === seq.current)
          setStatus({ kind: 'error', message: t('settings.notApplied', { reason: coreErrorText(err) }) });
        return false;
      }
    },
    [clearTimer],
  );

  /** A value the UI itself refuses (never sent). */
  const fail = useCallback(
    (message: string) => {
      clearTimer();
      seq.current++;
      setStatus({ kind: 'error', message });
    },
    [clearTimer],
  );

  const reset = useCallback(() => {
    clearTimer();
    seq.current++;
    setStatus({ kind: 'idle' });
  }, [clearTimer]);

  return { status, apply, fail, reset };
}
