/**
 * Pure helpers for the settings pane: the ranges of each number (read from the contract's
 * schema, so the UI and the core agree), parsing what the user typed into a value the core
 * accepts, or a sentence saying what is wrong. No DOM, no API: tested in
 * test/settings-pane.test.ts.
 */
import { type LiveSync, liveSyncSchema, settingsSchema } from '../../../common/ipc-contract';

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
  let t = text.trim().replace(/\s+/g, '');
  if (t.includes(',') && !t.includes('.')) t = t.replace(',', '.');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(t)) return Number.NaN;
  return Number(t);
}

/** 1000000 → "1,000,000"; 0.064 → "0.064" (no float noise). */
export function fmtNumber(n: number): string {
  return Number(n.toPrecision(12)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

function rangeText(range: NumberRange, unit: string, scale = 1): string {
  const u = unit ? ` ${unit}` : '';
  return `${fmtNumber(range.min / scale)} to ${fmtNumber(range.max / scale)}${u}`;
}

/** A required number inside `range` (cache size, live-sync thresholds). */
export function parseInRange(text: string, range: NumberRange, unit: string): Parsed<number> {
  if (text.trim() === '') return { ok: false, error: `Enter a value from ${rangeText(range, unit)}.` };
  const n = readNumber(text);
  if (!Number.isFinite(n)) return { ok: false, error: `“${text.trim()}” is not a number.` };
  if (range.int && !Number.isInteger(n)) {
    return { ok: false, error: `Enter a whole number from ${rangeText(range, unit)}.` };
  }
  if (n < range.min || n > range.max)
    return { ok: false, error: `Enter a value from ${rangeText(range, unit)}.` };
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
  if (!Number.isFinite(n)) return { ok: false, error: `“${text.trim()}” is not a number.` };
  const kbps = Math.round(n * unitScale(unit));
  if (n <= 0 || kbps < range.min || kbps > range.max) {
    return {
      ok: false,
      error: `Enter ${rangeText(range, unitLabel(unit), unitScale(unit))}, or leave it empty.`,
    };
  }
  return { ok: true, value: kbps };
}

// ── server address ───────────────────────────────────────────────────────────

/** Empty = the built-in demo server (null); otherwise an http(s) URL the schema accepts. */
export function parseServerUrl(text: string): Parsed<string | null> {
  const t = text.trim();
  if (t === '') return { ok: true, value: null };
  // "example.com:8080" parses as a URL with the scheme "example.com:"; it means a host.
  if (!t.includes('://') && /^[\w.-]+(:\d+)?(\/\S*)?$/.test(t)) {
    return { ok: false, error: `Start the address with http:// or https://, e.g. https://${t}` };
  }
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return { ok: false, error: 'Enter an address like https://swarmcast.example.com' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: 'Only http:// and https:// addresses work here.' };
  }
  if (!url.hostname) return { ok: false, error: 'The address has no host name.' };
  if (url.username || url.password)
    return { ok: false, error: 'Leave user names and passwords out of the address.' };
  if (!shape.serverUrl.safeParse(t).success) return { ok: false, error: 'This address is not valid.' };
  return { ok: true, value: t };
}

// ── live sync ────────────────────────────────────────────────────────────────

/** A sentence when thresholds contradict each other (the core accepts them, but playback suffers). */
export function liveSyncWarning(ls: LiveSync): string | null {
  if (ls.speedUpAboveS < ls.targetLatencyS) {
    return 'The speed-up threshold is below the target latency, so playback never settles at normal speed.';
  }
  if (ls.seekAboveS <= ls.speedUpAboveS) {
    return 'The seek threshold is not above the speed-up threshold, so the player jumps instead of catching up smoothly.';
  }
  return null;
}
