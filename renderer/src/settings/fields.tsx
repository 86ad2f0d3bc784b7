/**
 * Building blocks of the settings pane: a field frame (label, control, one-line explanation,
 * status and error), a text input that applies on blur or Enter, and a switch.
 */
import { type ChangeEvent, type KeyboardEvent, type ReactNode, useRef, useState } from 'react';
import { t } from '../i18n';
import type { ApplyStatus } from './use-apply';

export function describedBy(id: string, status: ApplyStatus, extra?: string): string {
  return [`${id}-hint`, extra, status.kind === 'error' ? `${id}-error` : null].filter(Boolean).join(' ');
}

function StatusTag({ status }: { status: ApplyStatus }) {
  const text =
    status.kind === 'saving' ? t('settings.saving') : status.kind === 'applied' ? t('settings.applied') : '';
  return (
    <span className={`field-status field-status-${status.kind}`} aria-live="polite">
      {text}
    </span>
  );
}

export function Field({
  id,
  label,
  hint,
  status,
  control,
  children,
  after,
  testId,
  labelFor = id,
}: {
  id: string;
  label: string;
  hint: ReactNode;
  status: ApplyStatus;
  /** Put next to the label (switches). */
  control?: ReactNode;
  /** Below the label (inputs). */
  children?: ReactNode;
  /** Below the explanation (what is in use now). */
  after?: ReactNode;
  testId?: string;
  labelFor?: string;
}) {
  return (
    <div className="field" data-testid={testId}>
      <div className="field-head">
        <label htmlFor={labelFor} className="field-label">
          {label}
        </label>
        <StatusTag status={status} />
        {control}
      </div>
      {children}
      <p id={`${id}-hint`} className="field-hint">
        {hint}
      </p>
      {after}
      {status.kind === 'error' && (
        <p id={`${id}-error`} className="field-error" role="alert" data-testid={`${id}-error`}>
          {status.message}
        </p>
      )}
    </div>
  );
}

type Commit = (text: string) => boolean | Promise<boolean>;

/**
 * What the user typed over a value that comes from the store: `display` shows until they
 * type; their text goes to `onCommit` on blur or Enter and is dropped once accepted (so the
 * store's value shows again). `commit` can also be called with another handler (a unit
 * changed while the text was pending).
 */
export function useDraft(display: string, onCommit: Commit) {
  const [draft, setDraft] = useState<string | null>(null);
  const inFlight = useRef<string | null>(null);

  const commit = async (handler: Commit = onCommit): Promise<void> => {
    if (draft === null || inFlight.current === draft) return;
    const text = draft;
    inFlight.current = text;
    try {
      if (await handler(text)) setDraft((d) => (d === text ? null : d));
    } finally {
      inFlight.current = null;
    }
  };

  const inputProps = {
    value: draft ?? display,
    onChange: (e: ChangeEvent<HTMLInputElement>) => setDraft(e.target.value),
    onBlur: () => void commit(),
    onKeyDown: (e: KeyboardEvent<HTMLInputElement>) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void commit();
      }
    },
  };
  return { draft, commit, inputProps };
}

/** A text input over a stored value that applies on blur or Enter (see useDraft). */
export function CommitInput({
  id,
  value,
  onCommit,
  testId,
  invalid,
  describedBy: described,
  placeholder,
  inputMode = 'decimal',
  label,
  size,
}: {
  id: string;
  value: string;
  onCommit: Commit;
  testId: string;
  invalid: boolean;
  describedBy: string;
  placeholder?: string;
  inputMode?: 'decimal' | 'url' | 'text';
  /** aria-label when no <label> points at this input. */
  label?: string;
  size?: 'short' | 'wide';
}) {
  const { inputProps } = useDraft(value, onCommit);
  return (
    <input
      id={id}
      className={`input field-input${size === 'short' ? ' field-input-short' : ''}`}
      data-testid={testId}
      type="text"
      inputMode={inputMode}
      spellCheck={false}
      autoComplete="off"
      placeholder={placeholder}
      aria-invalid={invalid}
      aria-describedby={described}
      aria-label={label}
      {...inputProps}
    />
  );
}

/** A checkbox drawn as a switch (role="switch", Space toggles it). */
export function Switch({
  id,
  checked,
  onChange,
  testId,
  describedBy: described,
  label,
  disabled,
}: {
  id: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  testId: string;
  describedBy?: string;
  label?: string;
  disabled?: boolean;
}) {
  return (
    <input
      id={id}
      type="checkbox"
      role="switch"
      className="switch"
      data-testid={testId}
      checked={checked}
      aria-checked={checked}
      aria-describedby={described}
      aria-label={label}
      disabled={disabled}
      onChange={(e) => onChange(e.target.checked)}
    />
  );
}
