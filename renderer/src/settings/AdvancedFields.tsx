/** Advanced (collapsed): the live-sync thresholds the player follows at the live edge. */
import { useTranslation } from 'react-i18next';
import { DEFAULT_SETTINGS, type LiveSync } from '../../../common/ipc-contract';
import { NORMAL_MODE_TARGET_S } from '../../../common/live-sync';
import { CommitInput, describedBy, Field } from './fields';
import { type LiveSyncKey, liveSyncWarning, parseInRange, RANGES } from './settings-model';
import { useApply } from './use-apply';

const FIELDS = [
  { key: 'targetLatencyS', id: 'target-latency', label: 'settings.targetLatency', unit: 's' },
  { key: 'speedUpAboveS', id: 'speedup-above', label: 'settings.speedUpAbove', unit: 's' },
  { key: 'catchUpRate', id: 'catchup-rate', label: 'settings.catchUpRate', unit: '×' },
  { key: 'seekAboveS', id: 'seek-above', label: 'settings.seekAbove', unit: 's' },
] as const satisfies readonly { key: LiveSyncKey; id: string; label: string; unit: string }[];

function LiveSyncField({ field, value }: { field: (typeof FIELDS)[number]; value: number }) {
  const { t } = useTranslation();
  const { status, apply, fail, reset } = useApply();
  const range = RANGES[field.key];
  const commit = (text: string) => {
    const parsed = parseInRange(text, range, field.unit === '×' ? '' : field.unit);
    if (!parsed.ok) {
      fail(parsed.error);
      return false;
    }
    if (parsed.value === value) {
      reset();
      return true;
    }
    return apply({ liveSync: { [field.key]: parsed.value } });
  };
  const unitId = `${field.id}-unit`;
  return (
    <Field id={field.id} label={t(field.label)} status={status} hint={t(`${field.label}Hint`)}>
      <div className="field-row">
        <CommitInput
          id={field.id}
          testId={`setting-${field.id}`}
          value={String(value)}
          onCommit={commit}
          invalid={status.kind === 'error'}
          describedBy={describedBy(field.id, status, unitId)}
          size="short"
        />
        <span id={unitId} className="field-unit">
          {field.unit === 's' ? t('settings.seconds') : t('settings.timesSpeed')}
        </span>
      </div>
    </Field>
  );
}

export function AdvancedFields({ liveSync }: { liveSync: LiveSync }) {
  const { t } = useTranslation();
  const { status, apply } = useApply();
  const warning = liveSyncWarning(liveSync);
  const isDefault = FIELDS.every((f) => liveSync[f.key] === DEFAULT_SETTINGS.liveSync[f.key]);
  return (
    <details className="settings-advanced" data-testid="settings-advanced">
      <summary>{t('settings.advanced')}</summary>
      <p className="field-hint">{t('settings.advancedLead', { seconds: NORMAL_MODE_TARGET_S })}</p>
      {FIELDS.map((f) => (
        <LiveSyncField key={f.key} field={f} value={liveSync[f.key]} />
      ))}
      {warning && (
        <p className="field-warning" role="status" data-testid="live-sync-warning">
          {warning}
        </p>
      )}
      <div className="field-row">
        <button
          type="button"
          className="btn"
          data-testid="setting-live-sync-reset"
          disabled={isDefault || status.kind === 'saving'}
          onClick={() => void apply({ liveSync: { ...DEFAULT_SETTINGS.liveSync } })}
        >
          {t('settings.reset')}
        </button>
        {status.kind === 'error' && (
          <span className="field-error" role="alert">
            {status.message}
          </span>
        )}
      </div>
    </details>
  );
}
