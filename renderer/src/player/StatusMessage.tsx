/**
 * What the user sees instead of a black box: idle hint (or Play again after Stop), connecting,
 * and failures in plain words with what to do, the technical detail behind a toggle, and the
 * countdown to the automatic retry with a "Try now".
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { usePlayerStore } from '../stores/player-store';
import { failureText } from './messages';
import { playbackSession } from './session';

function useCountdown(at: number | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === null) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [at]);
  return at === null ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

function Details({ text }: { text: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <div className="status-details">
      <button
        type="button"
        className="link-btn"
        data-testid="status-details-toggle"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {open ? t('player.hideDetails') : t('player.details')}
      </button>
      {open && (
        <code className="status-detail" data-testid="status-detail">
          {text}
        </code>
      )}
    </div>
  );
}

export function StatusMessage() {
  const { t } = useTranslation();
  const phase = usePlayerStore((s) => s.phase);
  const message = usePlayerStore((s) => s.message);
  const failure = usePlayerStore((s) => s.failure);
  const channel = usePlayerStore((s) => s.channel);
  const lastChannel = usePlayerStore((s) => s.lastChannel);
  const waiting = usePlayerStore((s) => s.waiting);
  const retryAt = usePlayerStore((s) => s.retryAt);
  const retryIn = useCountdown(retryAt);

  if (phase === 'playing') {
    return waiting ? (
      <div className="buffering" data-testid="buffering" aria-live="polite">
        <span className="spinner" /> {t('player.buffering')}
      </div>
    ) : null;
  }

  if (phase === 'idle') {
    return (
      <div className="status status-idle" data-testid="status-message" data-phase={phase}>
        <p className="status-title">{t('player.idleTitle')}</p>
        {lastChannel ? (
          <button
            type="button"
            className="btn btn-primary"
            data-testid="play-again"
            onClick={() => playbackSession.replay()}
          >
            {t('player.playAgain', { channel: lastChannel })}
          </button>
        ) : (
          <p className="muted">{t('player.idleWhat')}</p>
        )}
      </div>
    );
  }

  if (phase === 'opening') {
    return (
      <div className="status" data-testid="status-message" data-phase={phase} aria-live="polite">
        <span className="spinner large" />
        <p className="status-title">{t('player.connecting', { channel: channel ?? '' })}</p>
      </div>
    );
  }

  const text = failureText(
    failure ?? (phase === 'offline' ? 'offline' : phase === 'unreachable' ? 'unreachable' : 'error'),
    channel ?? '',
  );
  return (
    <div
      className={`status status-${phase}`}
      data-testid="status-message"
      data-phase={phase}
      data-failure={failure ?? undefined}
      role="alert"
    >
      <p className="status-title">{text.title}</p>
      <p data-testid="status-what">{text.what}</p>
      <p className="muted">{text.todo}</p>
      <p className="muted status-retry">
        {retryIn === null ? t('player.retrying') : t('player.retryIn', { seconds: retryIn })}{' '}
        {retryIn !== null && retryIn > 0 && (
          <button
            type="button"
            className="link-btn"
            data-testid="retry-now"
            onClick={() => playbackSession.retryNow()}
          >
            {t('player.retryNow')}
          </button>
        )}
      </p>
      {message && <Details text={message} />}
    </div>
  );
}
