/**
 * The channel list: live channels from the server (demo first, refreshed every few seconds),
 * a field to play any channel id, and a clear state when the list cannot be had.
 */
import { type FormEvent, type SyntheticEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { CHANNEL_ID_PATTERN } from '../../../common/manifest';
import { fmtKbps, fmtViewers } from '../format';
import { playbackSession } from '../player/session';
import { useChannelsStore } from '../stores/channels-store';
import { useConnectionStore } from '../stores/connection-store';
import { usePlayerStore } from '../stores/player-store';
import { PreviewTile } from './PreviewTile';
import { usePrejoinStore, warmth } from './zapping';

/** performance.now() of the user's gesture, for time to first frame. */
function clickTime(e: SyntheticEvent): number {
  const now = performance.now();
  const t = e.nativeEvent.timeStamp;
  return t > 0 && t <= now ? t : now;
}

export function ChannelList() {
  const { t } = useTranslation();
  const channels = useChannelsStore((s) => s.channels);
  const status = useChannelsStore((s) => s.status);
  const error = useChannelsStore((s) => s.error);
  const current = usePlayerStore((s) => s.channel);
  const connected = useConnectionStore((s) => s.connected);
  const [draft, setDraft] = useState('');
  const hovered = usePrejoinStore((s) => s.hovered);
  const previews = usePrejoinStore((s) => s.previews);
  const id = draft.trim().toLowerCase();
  const valid = CHANNEL_ID_PATTERN.test(id);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (valid) playbackSession.play(id, clickTime(e));
  };

  return (
    <div className="channels">
      <h2 className="section-title">{t('channels.title')}</h2>
      <form className="channel-form" onSubmit={submit}>
        <input
          data-testid="channel-input"
          className="input"
          placeholder={t('channels.placeholder')}
          aria-label={t('channels.placeholder')}
          value={draft}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setDraft(e.target.value)}
          aria-invalid={draft !== '' && !valid}
        />
        <button data-testid="channel-play" className="btn btn-primary" type="submit" disabled={!valid}>
          {t('channels.play')}
        </button>
      </form>
      {draft !== '' && !valid && <p className="hint">{t('channels.idHint')}</p>}

      {status === 'error' && (
        <div className="notice notice-error" data-testid="channels-error" role="alert">
          <strong>{connected ? t('channels.serverDown') : t('channels.coreDown')}</strong>
          <span className="muted">
            {connected ? t('channels.serverDownWhat') : t('channels.coreDownWhat')}
          </span>
          {connected && error && (
            <details className="notice-details">
              <summary>{t('player.details')}</summary>
              <code className="status-detail">{error}</code>
            </details>
          )}
        </div>
      )}
      {status === 'loading' && channels.length === 0 && <p className="muted pad">{t('channels.loading')}</p>}
      {status === 'ok' && channels.length === 0 && (
        <div className="empty" data-testid="channels-empty">
          <strong>{t('channels.empty')}</strong>
          <span className="muted">{t('channels.emptyWhat')}</span>
        </div>
      )}

      {/* The last good list stays usable while the server is away, dimmed: its live marks may be old. */}
      <ul className={`channel-list ${status === 'error' ? 'channel-list-stale' : ''}`}>
        {channels.map((c) => (
          <li key={c.id}>
            <button
              type="button"
              data-testid={`channel-${c.id}`}
              className={`channel ${current === c.id ? 'channel-active' : ''}`}
              aria-current={current === c.id ? 'true' : undefined}
              onClick={(e) => playbackSession.play(c.id, clickTime(e))}
              // Hovered or focused for a moment: the core joins it quietly, so a click plays at once.
              onPointerEnter={() => c.live && warmth.hover(c.id)}
              onPointerLeave={() => warmth.unhover(c.id)}
              onFocus={() => c.live && warmth.hover(c.id)}
              onBlur={() => warmth.unhover(c.id)}
            >
              <span className={`live-dot ${c.live ? 'on' : ''}`} aria-hidden="true" />
              <span className="channel-name">{c.id}</span>
              {c.demo && <span className="tag">{t('channels.demo')}</span>}
              <span className="channel-meta">
                {c.viewers !== undefined && (
                  <span data-testid={`channel-viewers-${c.id}`} title={t('channels.watchingNow')}>
                    {fmtViewers(c.viewers)} ·{' '}
                  </span>
                )}
                {c.live ? fmtKbps(c.bitrateKbps) : t('channels.offline')}
              </span>
            </button>
            {hovered === c.id && previews[c.id] && current !== c.id && (
              <PreviewTile channel={c.id} url={previews[c.id]!} />
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
