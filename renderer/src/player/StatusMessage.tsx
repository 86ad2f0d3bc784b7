/** What the user sees instead of a black box: idle hint, connecting, offline, unreachable, broken. */
import { useEffect, useState } from 'react';
import { usePlayerStore } from '../stores/player-store';

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

const titles = {
  offline: 'Channel offline',
  unreachable: 'Connection problem',
  error: 'Stream interrupted',
} as const;

export function StatusMessage() {
  const phase = usePlayerStore((s) => s.phase);
  const message = usePlayerStore((s) => s.message);
  const channel = usePlayerStore((s) => s.channel);
  const waiting = usePlayerStore((s) => s.waiting);
  const retryAt = usePlayerStore((s) => s.retryAt);
  const retryIn = useCountdown(retryAt);

  if (phase === 'playing') {
    return waiting ? (
      <div className="buffering" data-testid="buffering" aria-live="polite">
        <span className="spinner" /> Buffering…
      </div>
    ) : null;
  }

  if (phase === 'idle') {
    return (
      <div className="status status-idle" data-testid="status-message" data-phase={phase}>
        <p className="status-title">Pick a channel to start watching</p>
        <p className="muted">Choose one from the list, or type a channel id.</p>
      </div>
    );
  }

  if (phase === 'opening') {
    return (
      <div className="status" data-testid="status-message" data-phase={phase} aria-live="polite">
        <span className="spinner large" />
        <p className="status-title">Connecting to “{channel}”…</p>
      </div>
    );
  }

  return (
    <div className={`status status-${phase}`} data-testid="status-message" data-phase={phase} role="alert">
      <p className="status-title">{titles[phase]}</p>
      <p>{message}</p>
      <p className="muted">
        {retryIn === null ? 'Trying again…' : `Trying again in ${retryIn} s. It will start by itself.`}
      </p>
    </div>
  );
}
