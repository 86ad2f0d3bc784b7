/**
 * Go live: where to point OBS on the server in use (for the built-in server, its real address),
 * the stream key, OBS settings that suit Swarmcast, and the channel's room — live or waiting,
 * viewers, P2P share and CDN bytes saved over time — with a low-latency preview of this channel
 * only (the player on the right; other channels keep the latency setting).
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { InvokeResponse } from '../../../common/ipc-contract';
import { CHANNEL_ID_PATTERN } from '../../../common/manifest';
import { getApi } from '../api';
import { errorText } from '../api/errors';
import { fmtBytes, fmtShare } from '../format';
import { playbackSession } from '../player/session';
import { useConnectionStore } from '../stores/connection-store';
import { usePlayerStore } from '../stores/player-store';
import { RoomChart } from './RoomChart';
import { pushRoom, roomFailed, useRoomStore } from './room-history';

type Ingest = InvokeResponse<'golive.info'>;

const CHANNEL_KEY = 'swarmcast.golive.channel';
const ROOM_POLL_MS = 2000;

function savedChannel(): string {
  try {
    const v = localStorage.getItem(CHANNEL_KEY);
    if (v && CHANNEL_ID_PATTERN.test(v)) return v;
  } catch {
    // storage disabled
  }
  return 'mychannel';
}

function CopyField({ label, value, testId }: { label: string; value: string; testId: string }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  const copy = () => {
    navigator.clipboard?.writeText(value).then(
      () => {
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      },
      () => setCopied(false),
    );
  };
  return (
    <div className="copy-field">
      <span className="copy-label">{label}</span>
      <div className="copy-row">
        <code className="copy-value" data-testid={testId}>
          {value}
        </code>
        <button type="button" className="btn btn-small" data-testid={`${testId}-copy`} onClick={copy}>
          {copied ? t('goLive.copied') : t('goLive.copy')}
        </button>
      </div>
    </div>
  );
}

function useIngest(): { ingest: Ingest | null; error: string | null } {
  const reachable = useConnectionStore((s) => s.server?.reachable ?? null);
  const url = useConnectionStore((s) => s.server?.url ?? null);
  const [state, setState] = useState<{ ingest: Ingest | null; error: string | null }>({
    ingest: null,
    error: null,
  });
  // Asked again when the server changes or comes back (both are the effect's only inputs).
  useEffect(() => {
    let live = true;
    void reachable;
    void url;
    getApi()
      .invoke('golive.info', {})
      .then((ingest) => live && setState({ ingest, error: null }))
      .catch((err: unknown) => live && setState({ ingest: null, error: errorText(err) }));
    return () => {
      live = false;
    };
  }, [reachable, url]);
  return state;
}

function useRoomPolling(channel: string | null): void {
  useEffect(() => {
    if (!channel) return;
    let live = true;
    const poll = () =>
      getApi()
        .invoke('golive.room', { channel })
        .then((room) => live && pushRoom(room, Date.now()))
        .catch((err: unknown) => live && roomFailed(errorText(err)));
    void poll();
    const timer = setInterval(poll, ROOM_POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [channel]);
}

export function GoLiveView() {
  const { t } = useTranslation();
  const [draft, setDraft] = useState(savedChannel);
  const id = draft.trim().toLowerCase();
  const valid = CHANNEL_ID_PATTERN.test(id);
  const channel = valid ? id : null;
  const { ingest, error } = useIngest();
  useRoomPolling(channel);
  const room = useRoomStore((s) => (s.channel === channel ? s.room : null));
  const playing = usePlayerStore((s) => s.channel);
  const mode = usePlayerStore((s) => s.latencyMode);
  const previewing = channel !== null && playing === channel && mode === 'low';

  useEffect(() => {
    if (!channel) return;
    try {
      localStorage.setItem(CHANNEL_KEY, channel);
    } catch {
      // storage disabled
    }
  }, [channel]);

  const key = channel ?? 'mychannel';
  const ffmpeg = ingest?.rtmpUrl
    ? `ffmpeg -re -i input.mp4 -c:v libx264 -preset veryfast -tune zerolatency -g 30 -b:v 3000k -c:a aac -f flv ${ingest.rtmpUrl}/${key}`
    : null;

  return (
    <div className="golive" data-testid="golive">
      <h2 className="section-title">{t('goLive.title')}</h2>
      <p className="muted golive-lead">{t('goLive.lead')}</p>

      <label className="copy-label" htmlFor="golive-channel">
        {t('goLive.channel')}
      </label>
      <input
        id="golive-channel"
        data-testid="golive-channel"
        className="input"
        value={draft}
        spellCheck={false}
        autoComplete="off"
        aria-invalid={!valid}
        onChange={(e) => setDraft(e.target.value)}
      />
      <p className="hint">{valid ? t('goLive.channelHint') : t('channels.idHint')}</p>

      {error && (
        <div className="notice notice-error" role="alert" data-testid="golive-error">
          <strong>{t('goLive.unavailable')}</strong>
          <span>{t('goLive.unavailableWhat')}</span>
          <code className="status-detail">{error}</code>
        </div>
      )}
      {ingest && (
        <>
          {ingest.rtmpUrl && (
            <CopyField label={t('goLive.server')} value={ingest.rtmpUrl} testId="golive-rtmp" />
          )}
          <CopyField label={t('goLive.streamKey')} value={key} testId="golive-key" />
          <p className="hint" data-testid="golive-key-note">
            {ingest.keysRequired ? t('goLive.keyFromOperator', { channel: key }) : t('goLive.keyIsChannel')}
          </p>
          {ingest.embeddedServer && (
            <p className="hint" data-testid="golive-embedded">
              {t('goLive.embedded', { url: ingest.serverUrl })}
            </p>
          )}
        </>
      )}

      <section className="golive-room" aria-label={t('goLive.state')}>
        <div className="golive-state" data-testid="golive-state" data-live={room?.live ? 'true' : 'false'}>
          <span className={`live-dot ${room?.live ? 'on' : ''}`} aria-hidden="true" />
          {room?.live ? t('goLive.live') : t('goLive.waiting')}
        </div>
        <dl className="golive-figures">
          <div>
            <dt>{t('goLive.viewers')}</dt>
            <dd data-testid="golive-viewers">{room?.viewers ?? '—'}</dd>
          </div>
          <div>
            <dt>{t('goLive.p2pShare')}</dt>
            <dd data-testid="golive-share">{room?.p2pShare != null ? fmtShare(room.p2pShare, 1) : '—'}</dd>
          </div>
          <div>
            <dt>{t('goLive.cdnSaved')}</dt>
            <dd data-testid="golive-saved">{fmtBytes(room?.cdnBytesSaved)}</dd>
          </div>
        </dl>
        <RoomChart />
        <button
          type="button"
          className={`btn ${previewing ? '' : 'btn-primary'}`}
          data-testid="golive-preview"
          disabled={!channel}
          onClick={() =>
            previewing
              ? playbackSession.stop()
              : channel && playbackSession.play(channel, performance.now(), 'low')
          }
        >
          {previewing ? t('goLive.stopPreview') : t('goLive.startPreview')}
        </button>
        <p className="hint">{t('goLive.previewHint')}</p>
      </section>

      <details className="golive-obs" open>
        <summary>{t('goLive.obsTitle')}</summary>
        <ul>
          <li>{t('goLive.obsService')}</li>
          <li>{t('goLive.obsKeyframe')}</li>
          <li>{t('goLive.obsRate')}</li>
          <li>{t('goLive.obsCodec')}</li>
          <li>{t('goLive.obsTune')}</li>
        </ul>
        {ffmpeg && <CopyField label={t('goLive.ffmpeg')} value={ffmpeg} testId="golive-ffmpeg" />}
      </details>
    </div>
  );
}
