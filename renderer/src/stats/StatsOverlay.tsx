/** The stats overlay: what the player measured, what the core reports, and a 60 s chart. */
import { useTranslation } from 'react-i18next';
import { fmtBytes, fmtKbps, fmtMs, fmtSeconds, fmtShare } from '../format';
import { usePlayerStore } from '../stores/player-store';
import { useSettingsStore } from '../stores/settings-store';
import { useStatsStore } from '../stores/stats-store';
import { LiveChart } from './LiveChart';
import { capUse, fmtIntegrity, fmtUpload } from './upload';
import './stats-upload.css';

function Row({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="stat-row">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

/** Upload now against the cap in force, with a bar when the cap is fixed. */
function UploadRow({ uploadKbps, capKbps }: { uploadKbps: number | null; capKbps: number | null }) {
  const { t } = useTranslation();
  const sharing = useSettingsStore((s) => s.settings.p2pEnabled);
  const use = uploadKbps === null ? null : capUse(uploadKbps, capKbps);
  return (
    <div className="stat-row stat-row-upload">
      <dt>{t('stats.upload')}</dt>
      <dd data-testid="stat-upload">
        {uploadKbps === null ? '—' : fmtUpload(uploadKbps, capKbps, sharing)}
        {use !== null && sharing && (
          <span className="stat-cap-bar" aria-hidden="true">
            <span style={{ width: `${use * 100}%` }} />
          </span>
        )}
      </dd>
    </div>
  );
}

export function StatsOverlay() {
  const { t } = useTranslation();
  const ttffMs = usePlayerStore((s) => s.ttffMs);
  const latencyS = usePlayerStore((s) => s.latencyS);
  const bufferS = usePlayerStore((s) => s.bufferS);
  const stalls = usePlayerStore((s) => s.stalls);
  const stallSeconds = usePlayerStore((s) => s.stallSeconds);
  const rate = usePlayerStore((s) => s.playbackRate);
  const sessionId = usePlayerStore((s) => s.sessionId);
  const core = useStatsStore((s) => s.core);
  // Core stats of another (old) session would mislead; show them only for ours or when unscoped.
  const c = core && (core.sessionId === null || core.sessionId === sessionId) ? core : null;
  const total = c ? c.bytesCdn + c.bytesP2p + c.bytesSeed : 0;
  const integrity = c ? fmtIntegrity(c.hashFailures, c.peersBanned) : null;

  return (
    <section className="stats" data-testid="stats" aria-label={t('stats.label')}>
      <dl>
        <Row label={t('stats.ttff')} value={fmtMs(ttffMs)} testId="stat-ttff" />
        <Row label={t('stats.latency')} value={fmtSeconds(latencyS)} testId="stat-latency" />
        <Row label={t('stats.buffer')} value={fmtSeconds(bufferS)} testId="stat-buffer" />
        <Row label={t('stats.rate')} value={`${rate.toFixed(2)}×`} testId="stat-rate" />
        <Row label={t('stats.bitrate')} value={fmtKbps(c?.bitrateKbps)} testId="stat-bitrate" />
        <Row
          label={t('stats.cdn')}
          value={c ? `${fmtBytes(c.bytesCdn)} · ${fmtShare(c.bytesCdn, total)}` : '—'}
          testId="stat-cdn"
        />
        <Row
          label={t('stats.p2p')}
          value={c ? `${fmtBytes(c.bytesP2p)} · ${fmtShare(c.bytesP2p, total)}` : '—'}
          testId="stat-p2p"
        />
        <Row
          label={t('stats.seed')}
          value={c ? `${fmtBytes(c.bytesSeed)} · ${fmtShare(c.bytesSeed, total)}` : '—'}
          testId="stat-seed"
        />
        <UploadRow uploadKbps={c?.uploadKbps ?? null} capKbps={c?.uploadCapKbps ?? null} />
        <Row label={t('stats.uploaded')} value={fmtBytes(c?.bytesUp)} testId="stat-up" />
        <Row label={t('stats.peers')} value={c ? String(c.peers) : '—'} testId="stat-peers" />
        {integrity !== null && <Row label={t('stats.badData')} value={integrity} testId="stat-integrity" />}
        <Row
          label={t('stats.stalls')}
          value={`${stalls} (${stallSeconds.toFixed(1)} s)`}
          testId="stat-stalls"
        />
      </dl>
      <LiveChart />
    </section>
  );
}
