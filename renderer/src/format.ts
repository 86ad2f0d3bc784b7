/** Number formatting for the stats overlay. */
import { i18n, t } from './i18n';

export function fmtSeconds(s: number | null | undefined, digits = 2): string {
  return s === null || s === undefined || !Number.isFinite(s) ? '—' : `${s.toFixed(digits)} s`;
}

export function fmtMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '—' : `${Math.round(ms)} ms`;
}

export function fmtKbps(kbps: number | null | undefined): string {
  if (kbps === null || kbps === undefined || !Number.isFinite(kbps)) return '—';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(2)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Share of `part` in `total` as a percentage string. */
export function fmtShare(part: number, total: number): string {
  return total > 0 ? `${Math.round((part / total) * 100)} %` : '—';
}

/** "1 watching", "1,234 watching", "12.3k watching" (in the app's language). */
export function fmtViewers(n: number): string {
  const viewers =
    n >= 10_000
      ? `${(n / 1000).toFixed(1)}k`
      : n.toLocaleString(i18n.language === 'zh-CN' ? 'zh-CN' : 'en-US');
  return t('channels.watching', { viewers });
}
