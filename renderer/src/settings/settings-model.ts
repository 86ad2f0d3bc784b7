/**
 * Pure helpers for the settings pane: the ranges of each number (read from the contract's
 * schema, so the UI and the core agree), parsing what the user typed into a value the core
 * accepts, or a sentence saying what is wrong. No DOM, no API: tested in
 * test/settings-pane.test.ts.
 */
import { type LiveSync, liveSyncSchema, settingsSchema } from '../../../common/ipc-contract';
import { t } from '../i18n';

export interface NumberRange {
  min: number;
  max: number;
  /** Whole numbers only. */
  int: boolean;
}

interface NumberSchemaLike {
  minValue: number | null;
  maxValue: number | null;
  format: string | null;
}

function rangeOf(schema: NumberSchemaLike): NumberRange {
  return {
    min: schema.minValue ?? Number.NEGATIVE_INFINITY,
    max: schema.maxValue ?? Number.POSITIVE_INFINITY,
    int: schema.format === 'safeint' || schema.format === 'int32',
  };
}

const shape = settingsSchema.shape;
const sync = liveSyncSchema.shape;

export const RANGES = {
  uploadCapKbps: rangeOf(shape.uploadCapKbps.unwrap()),
  downloadCapKbps: rangeOf(shape.downloadCapKbps.unwrap()),
  cacheMB: rangeOf(shape.cacheMB),
  targetLatencyS: rangeOf(sync.targetLatencyS),
  speedUpAboveS: rangeOf(sync.speedUpAboveS),
  catchUpRate: rangeOf(sync.catchUpRate),
  seekAboveS: rangeOf(sync.seekAboveS),
} as const;

export type LiveSyncKey = keyof LiveSync;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** "1,5" and " 1.5 " both read as 1.5; anything else that is not a plain number is NaN. */
export function readNumber(text: string): number {
  let s = text.trim().replace(/\s+/g, '');
  if (s.includes(',') && !s.includes('.')) s = s.replace(',', '.');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(s)) return Number.NaN;
  return Number(s);
}

/** 1000000 → "1,000,000"; 0.064 → "0.064" (no float noise). */
export function fmtNumber(n: number): string {
  return Number(n.toPrecision(12)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

function rangeText(range: NumberRange, unit: string, scale = 1): string {
  const u = unit ? ` ${unit}` : '';
  return `${t('validation.rangeText', { min: fmtNumber(range.min / scale), max: fmtNumber(range.max / scale) })}${u}`;
}

/** A required number inside `range` (cache size, live-sync thresholds). */
export function parseInRange(text: string, range: NumberRange, unit: string): Parsed<number> {
  const inRange = t('validation.range', { range: rangeText(range, unit) });
  if (text.trim() === '') return { ok: false, error: inRange };
  const n = readNumber(text);
  if (!Number.isFinite(n)) return { ok: false, error: t('validation.notNumber', { text: text.trim() }) };
  if (range.int && !Number.isInteger(n)) {
    return { ok: false, error: t('validation.wholeRange', { range: rangeText(range, unit) }) };
  }
  if (n < range.min || n > range.max) return { ok: false, error: inRange };
  return { ok: true, value: n };
}

// ── rates ────────────────────────────────────────────────────────────────────

export type RateUnit = 'kbit' | 'mbit';

export const RATE_UNITS: readonly { value: RateUnit; label: string }[] = [
  { value: 'kbit', label: 'kbit/s' },
  { value: 'mbit', label: 'Mbit/s' },
];

const unitScale = (unit: RateUnit): number => (unit === 'mbit' ? 1000 : 1);
export const unitLabel = (unit: RateUnit): string => (unit === 'mbit' ? 'Mbit/s' : 'kbit/s');

/** A rate in kbit/s as the number shown in `unit` (2500 kbit/s in Mbit/s → "2.5"). */
export function rateToText(kbps: number | null, unit: RateUnit): string {
  if (kbps === null) return '';
  return String(Number((kbps / unitScale(unit)).toPrecision(12)));
}

/**
 * A cap typed in `unit`: empty means none (null: "automatic" for upload, "no limit" for
 * download), otherwise whole kbit/s inside the schema's range.
 */
export function parseRateCap(text: string, unit: RateUnit, range: NumberRange): Parsed<number | null> {
  if (text.trim() === '') return { ok: true, value: null };
  const n = readNumber(text);
  if (!Number.isFinite(n)) return { ok: false, error: t('validation.notNumber', { text: text.trim() }) };
  const kbps = Math.round(n * unitScale(unit));
  if (n <= 0 || kbps < range.min || kbps > range.max) {
    return {
      ok: false,
      error: t('validation.rangeOrEmpty', { range: rangeText(range, unitLabel(unit), unitScale(unit)) }),
    };
  }
  return { ok: true, value: kbps };
}

// ── server address ───────────────────────────────────────────────────────────

/** Empty = the built-in demo server (null); otherwise an http(s) URL the schema accepts. */
export function parseServerUrl(text: string): Parsed<string | null> {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: null };
  // "example.com:8080" parses as a URL with the scheme "example.com:"; it means a host.
  if (!trimmed.includes('://') && /^[\w.-]+(:\d+)?(\/\S*)?$/.test(trimmed)) {
    return { ok: false, error: t('validation.needScheme', { host: text.trim() }) };
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return { ok: false, error: t('validation.badUrl') };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: t('validation.onlyHttp') };
  }
  if (!url.hostname) return { ok: false, error: t('validation.noHost') };
  if (url.username || url.password) return { ok: false, error: t('validation.noCredentials') };
  if (!shape.serverUrl.safeParse(trimmed).success) return { ok: false, error: t('validation.invalidUrl') };
  return { ok: true, value: trimmed };
}

// ── live sync ────────────────────────────────────────────────────────────────

/** A sentence when thresholds contradict each other (the core accepts them, but playback suffers). */
export function liveSyncWarning(ls: LiveSync): string | null {
  if (ls.speedUpAboveS < ls.targetLatencyS) {
    return t('validation.speedUpBelowTarget');
  }
  if (ls.seekAboveS <= ls.speedUpAboveS) {
    return t('validation.seekBelowSpeedUp');
  }
  return null;
}
