/** The settings pane's and stats overlay's pure helpers: ranges from the schema, parsing, wording. */
import { describe, expect, it } from 'vitest';
import { settingsPatchSchema } from '../common/ipc-contract';

import {
  fmtNumber,
  liveSyncWarning,
  parseInRange,
  parseRateCap,
  parseServerUrl,
  RANGES,
  rateToText,
  readNumber,
} from '../renderer/src/settings/settings-model';
import { capUse, fmtIntegrity, fmtRate, fmtUpload } from '../renderer/src/stats/upload';

describe('ranges come from the contract schema', () => {
  it('reads min, max and whole-number rules', () => {
    expect(RANGES.cacheMB).toEqual({ min: 16, max: 4096, int: true });
    expect(RANGES.uploadCapKbps).toEqual({ min: 64, max: 1_000_000, int: true });
    expect(RANGES.downloadCapKbps).toEqual({ min: 256, max: 1_000_000, int: true });
    expect(RANGES.catchUpRate).toEqual({ min: 1.01, max: 2, int: false });
  });
});

describe('readNumber', () => {
  it.each([
    ['2', 2],
    [' 1.5 ', 1.5],
    ['1,5', 1.5],
    ['.5', 0.5],
    ['1 000', 1000],
  ])('%j → %d', (text, n) => expect(readNumber(text)).toBe(n));
  it.each(['', 'abc', '1e3', '2mbit', '1.2.3', '0x10'])('%j is not a number', (text) =>
    expect(readNumber(text)).toBeNaN(),
  );
});

describe('parseRateCap', () => {
  const r = RANGES.uploadCapKbps;
  it('empty means no fixed cap', () =>
    expect(parseRateCap('  ', 'kbit', r)).toEqual({ ok: true, value: null }));
  it('converts Mbit/s to whole kbit/s', () => {
    expect(parseRateCap('2', 'mbit', r)).toEqual({ ok: true, value: 2000 });
    expect(parseRateCap('1.2345', 'mbit', r)).toEqual({ ok: true, value: 1235 });
    expect(parseRateCap('1500', 'kbit', r)).toEqual({ ok: true, value: 1500 });
  });
  it('refuses values outside the schema range with the range in the chosen unit', () => {
    const low = parseRateCap('10', 'kbit', r);
    expect(low.ok).toBe(false);
    if (!low.ok) expect(low.error).toContain('64 to 1,000,000 kbit/s');
    const high = parseRateCap('2000', 'mbit', r);
    expect(high.ok).toBe(false);
    if (!high.ok) expect(high.error).toContain('0.064 to 1,000 Mbit/s');
    expect(parseRateCap('0', 'mbit', r).ok).toBe(false);
    expect(parseRateCap('-5', 'kbit', r).ok).toBe(false);
    expect(parseRateCap('fast', 'kbit', r).ok).toBe(false);
  });
  it('every accepted value passes the core schema', () => {
    for (const [text, unit] of [
      ['64', 'kbit'],
      ['0.064', 'mbit'],
      ['1000', 'mbit'],
      ['3.3', 'mbit'],
    ] as const) {
      const p = parseRateCap(text, unit, r);
      expect(p.ok).toBe(true);
      if (p.ok) expect(settingsPatchSchema.safeParse({ uploadCapKbps: p.value }).success).toBe(true);
    }
  });
  it('shows a stored rate in the chosen unit', () => {
    expect(rateToText(2500, 'mbit')).toBe('2.5');
    expect(rateToText(2500, 'kbit')).toBe('2500');
    expect(rateToText(1, 'mbit')).toBe('0.001');
    expect(rateToText(null, 'kbit')).toBe('');
  });
});

describe('parseInRange', () => {
  it('accepts whole MB inside the range', () => {
    expect(parseInRange('256', RANGES.cacheMB, 'MB')).toEqual({ ok: true, value: 256 });
  });
  it.each(['8', '5000', '100.5', '', 'lots'])('refuses %j for the cache', (text) => {
    const p = parseInRange(text, RANGES.cacheMB, 'MB');
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.length).toBeGreaterThan(5);
  });
  it('says the range', () => {
    const p = parseInRange('5000', RANGES.cacheMB, 'MB');
    expect(p.ok ? '' : p.error).toBe('Enter a value from 16 to 4,096 MB.');
  });
  it('allows fractions where the schema does', () => {
    expect(parseInRange('1.15', RANGES.catchUpRate, '')).toEqual({ ok: true, value: 1.15 });
    expect(parseInRange('1', RANGES.catchUpRate, '').ok).toBe(false);
  });
});

describe('parseServerUrl', () => {
  it('empty is the built-in server', () => expect(parseServerUrl(' ')).toEqual({ ok: true, value: null }));
  it.each(['http://127.0.0.1:8080', 'https://swarmcast.example.com/', 'https://a.example:8443/base'])(
    'accepts %s',
    (u) => {
      const p = parseServerUrl(u);
      expect(p).toEqual({ ok: true, value: u });
      expect(settingsPatchSchema.safeParse({ serverUrl: u }).success).toBe(true);
    },
  );
  it('suggests a scheme for a bare host', () => {
    const p = parseServerUrl('example.com:8080');
    expect(p.ok ? '' : p.error).toContain('e.g. https://example.com:8080');
  });
  it.each(['ftp://example.com', 'rtmp://example.com/live', 'http://user:pw@example.com', 'not a url'])(
    'refuses %s',
    (u) => expect(parseServerUrl(u).ok).toBe(false),
  );
});

describe('liveSyncWarning', () => {
  it('is quiet for the defaults', () =>
    expect(
      liveSyncWarning({ targetLatencyS: 0.5, speedUpAboveS: 1, catchUpRate: 1.15, seekAboveS: 4 }),
    ).toBeNull());
  it('flags contradicting thresholds', () => {
    expect(
      liveSyncWarning({ targetLatencyS: 3, speedUpAboveS: 1, catchUpRate: 1.15, seekAboveS: 4 }),
    ).toMatch(/speed-up/);
    expect(
      liveSyncWarning({ targetLatencyS: 0.5, speedUpAboveS: 5, catchUpRate: 1.15, seekAboveS: 4 }),
    ).toMatch(/seek/);
  });
});

describe('stats overlay upload text', () => {
  it('formats rates', () => {
    expect(fmtRate(850.4)).toBe('850 kbit/s');
    expect(fmtRate(1234)).toBe('1.2 Mbit/s');
    expect(fmtRate(2000)).toBe('2.0 Mbit/s');
    expect(fmtRate(250_000)).toBe('250 Mbit/s');
  });
  it('shows the rate against the cap', () => {
    expect(fmtUpload(1200, 2000, true)).toBe('1.2 Mbit/s of 2.0 Mbit/s cap');
    expect(fmtUpload(1200, null, true)).toBe('1.2 Mbit/s (automatic)');
    expect(fmtUpload(0, 2000, false)).toBe('0 kbit/s (sharing off)');
    expect(capUse(1500, 2000)).toBe(0.75);
    expect(capUse(2500, 2000)).toBe(1);
    expect(capUse(100, null)).toBeNull();
  });
  it('names bad data only when there is some', () => {
    expect(fmtIntegrity(0, 0)).toBeNull();
    expect(fmtIntegrity(1, 0)).toBe('1 hash failure');
    expect(fmtIntegrity(3, 2)).toBe('3 hash failures · 2 peers banned');
  });
  it('prints numbers without float noise', () => expect(fmtNumber(64 / 1000)).toBe('0.064'));
});
