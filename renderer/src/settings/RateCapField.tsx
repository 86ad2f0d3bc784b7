/**
 * Upload or download cap: a switch for "no fixed cap" (automatic upload / no download limit)
 * and a number in kbit/s or Mbit/s. Typing a number and pressing Enter (or leaving the field)
 * sets a cap; an empty field or the switch goes back to no fixed cap.
 */
import { type ReactNode, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { describedBy, Field, Switch, useDraft } from './fields';
import { type NumberRange, parseRateCap, RATE_UNITS, type RateUnit, rateToText } from './settings-model';
import { useApply } from './use-apply';

export function RateCapField({
  id,
  settingKey,
  label,
  value,
  range,
  nullLabel,
  nullTestId,
  defaultCapKbps,
  hint,
}: {
  /** "upload" or "download": element ids and testids derive from it. */
  id: 'upload' | 'download';
  settingKey: 'uploadCapKbps' | 'downloadCapKbps';
  label: string;
  value: number | null;
  range: NumberRange;
  /** Label of the switch meaning null ("Automatic", "No limit"). */
  nullLabel: string;
  nullTestId: string;
  /** The cap offered when the switch is turned off and no cap was set before. */
  defaultCapKbps: number;
  hint: ReactNode;
}) {
  const { t } = useTranslation();
  const fieldId = `${id}-cap`;
  const { status, apply, fail, reset } = useApply();
  const [unit, setUnit] = useState<RateUnit>('kbit');
  const lastCap = useRef<number | null>(value);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (value !== null) lastCap.current = value;
  }, [value]);

  const commitIn = (u: RateUnit) => async (text: string) => {
    const parsed = parseRateCap(text, u, range);
    if (!parsed.ok) {
      fail(parsed.error);
      return false;
    }
    if (parsed.value === value) {
      reset();
      return true;
    }
    return apply({ [settingKey]: parsed.value });
  };

  const draft = useDraft(rateToText(value, unit), commitIn(unit));

  const changeUnit = (u: RateUnit) => {
    setUnit(u);
    // A number typed before the unit was picked means a number in the new unit.
    if (draft.draft !== null) void draft.commit(commitIn(u));
  };

  const setNull = (on: boolean) => {
    if (on) void apply({ [settingKey]: null });
    else {
      void apply({ [settingKey]: lastCap.current ?? defaultCapKbps });
      input.current?.focus();
    }
  };

  const described = describedBy(fieldId, status);
  return (
    <Field
      id={fieldId}
      label={label}
      hint={hint}
      status={status}
      testId={`field-${fieldId}`}
      labelFor={`${fieldId}-input`}
    >
      <div className="field-row">
        <label className="switch-label" htmlFor={`${fieldId}-null`}>
          <Switch
            id={`${fieldId}-null`}
            testId={nullTestId}
            checked={value === null}
            onChange={setNull}
            describedBy={described}
          />
          <span>{nullLabel}</span>
        </label>
        <input
          ref={input}
          id={`${fieldId}-input`}
          className={`input field-input field-input-short${value === null ? ' field-input-idle' : ''}`}
          data-testid={`setting-${fieldId}`}
          type="text"
          inputMode="decimal"
          spellCheck={false}
          autoComplete="off"
          placeholder={t('settings.example', { value: unit === 'mbit' ? '2' : '2000' })}
          aria-invalid={status.kind === 'error'}
          aria-describedby={described}
          {...draft.inputProps}
        />
        <select
          className="select"
          data-testid={`setting-${id}-unit`}
          aria-label={t('settings.unit', { label })}
          value={unit}
          onChange={(e) => changeUnit(e.target.value as RateUnit)}
        >
          {RATE_UNITS.map((u) => (
            <option key={u.value} value={u.value}>
              {u.label}
            </option>
          ))}
        </select>
      </div>
    </Field>
  );
}
