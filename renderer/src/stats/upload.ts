/** Text for the stats overlay's upload rows (pure; tested in test/settings-pane.test.ts). */
import { t } from '../i18n';

/** 850 → "850 kbit/s", 1234 → "1.2 Mbit/s", 2000 → "2.0 Mbit/s". */
export function fmtRate(kbps: number): string {
  if (!Number.isFinite(kbps) || kbps < 0) return '—';
  if (kbps < 1000) return `${Math.round(kbps)} kbit/s`;
  const mbps = kbps / 1000;
  return `${mbps < 100 ? mbps.toFixed(1) : Math.round(mbps)} Mbit/s`;
}

/** "1.2 Mbit/s of 2.0 Mbit/s cap", "1.2 Mbit/s (automatic)", or "0 kbit/s (sharing off)". */
export function fmtUpload(uploadKbps: number, capKbps: number | null, sharing: boolean): string {
  const now = fmtRate(uploadKbps);
  if (!sharing) return t('stats.uploadOff', { rate: now });
  return capKbps === null
    ? t('stats.uploadAuto', { rate: now })
    : t('stats.uploadCap', { rate: now, cap: fmtRate(capKbps) });
}

/** Share of the cap in use, 0..1, or null when there is no fixed cap. */
export function capUse(uploadKbps: number, capKbps: number | null): number | null {
  if (capKbps === null || !(capKbps > 0)) return null;
  return Math.min(1, Math.max(0, uploadKbps / capKbps));
}

/** "3 hash failures · 1 peer banned", or null when both are zero. */
export function fmtIntegrity(hashFailures: number, peersBanned: number): string | null {
  const parts: string[] = [];
  if (hashFailures > 0) parts.push(t('stats.hashFailures', { count: hashFailures }));
  if (peersBanned > 0) parts.push(t('stats.peersBanned', { count: peersBanned }));
  return parts.length > 0 ? parts.join(' · ') : null;
}
