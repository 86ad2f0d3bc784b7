/** Advanced (collapsed): the live-sync thresholds the player follows at the live edge. */
import { DEFAULT_SETTINGS, type LiveSync } from '../../../common/ipc-contract';
import { NORMAL_MODE_TARGET_S } from '../../../common/live-sync';
import { CommitInput, describedBy, Field } from './fields';
import { type LiveSyncKey, liveSyncWarning, parseInRange, RANGES } from './settings-model';
import { useApply } from './use-apply';

const FIELDS: readonly {
  key: LiveSyncKey;
  id: string;
  label: string;
  unit: string;
  hint: string;
}[] = [
  {
    key: 'targetLatencyS',
    id: 'target-latency',
    label: 'Target latency',
    unit: 's',
    hint: 'Where playback sits behind live after start-up and after catching up.',
  },
  {
    key: 'speedUpAboveS',
    id: 'speedup-above',
    label: 'Speed up above',
    unit: 's',
    hint: 'Further behind live than this, play slightly faster until back at the target.',
  },
  {
    key: 'catchUpRate',
    id: 'catchup-rate',
    label: 'Catch-up rate',
    unit: '×',
    hint: 'Playback speed while catching up; around 1.15 is hard to notice.',
  },
  {
    key: 'seekAboveS',
    id: 'seek-above',
    label: 'Seek above',
    unit: 's',
    hint: 'Further behind live than this, jump forward instead of speeding up.',
  },
];

function LiveSyncField({ field, value }: { field: (typeof FIELDS)[number]; value: number }) {
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
    <Field id={field.id} label={field.label} status={status} hint={field.hint}>
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
          {field.unit === 's' ? 'seconds' : '× normal speed'}
        </span>
      </div>
    </Field>
  );
}

export function AdvancedFields({ liveSync }: { liveSync: LiveSync }) {
  const { status, apply } = useApply();
  const warning = liveSyncWarning(liveSync);
  const isDefault = FIELDS.every((f) => liveSync[f.key] === DEFAULT_SETTINGS.liveSync[f.key]);
  return (
    <details className="settings-advanced" data-testid="settings-advanced">
      <summary>Advanced: live sync</summary>
      <p className="field-hint">
        How the player holds its distance to live. In Normal mode with sharing on, the target is at least{' '}
        {NORMAL_MODE_TARGET_S} s so that viewers have time to pass the stream on.
      </p>
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
          Reset to defaults
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
