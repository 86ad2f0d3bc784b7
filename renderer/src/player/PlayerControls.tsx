/** Play/pause, channels, stop, volume, the live badge (jump to live), stats, help, full screen. */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { fmtSeconds } from '../format';
import { usePlayerStore } from '../stores/player-store';
import { useUiStore } from '../stores/ui-store';
import { Icon } from './icons';
import { playbackSession } from './session';
import * as controls from './user-controls';

function useIsFullscreen(): boolean {
  const [fs, setFs] = useState(() => document.fullscreenElement !== null);
  useEffect(() => {
    const on = () => setFs(document.fullscreenElement !== null);
    document.addEventListener('fullscreenchange', on);
    return () => document.removeEventListener('fullscreenchange', on);
  }, []);
  return fs;
}

/**
 * LIVE (red) only while playing at the live edge; otherwise grey with how far behind, and a
 * click (or L) jumps back to live.
 */
function LiveBadge() {
  const { t } = useTranslation();
  const atLive = usePlayerStore((s) => s.atLive);
  const paused = usePlayerStore((s) => s.paused);
  const latencyS = usePlayerStore((s) => s.latencyS);
  const behind = latencyS !== null ? fmtSeconds(latencyS, 1) : null;
  const title = atLive ? t('player.live') : t('player.jumpToLive');
  return (
    <button
      type="button"
      className={`live-pill ${atLive ? 'live-on' : 'live-off'}`}
      data-testid="live-badge"
      data-live={atLive ? 'true' : 'false'}
      onClick={() => controls.jumpToLive()}
      title={`${title} (L)`}
      aria-label={atLive ? t('player.live') : t('player.jumpToLive')}
    >
      {t('player.live')}
      {!atLive && behind !== null && (
        <span className="live-behind">
          {paused ? t('player.pausedBehind', { seconds: behind }) : `−${behind}`}
        </span>
      )}
    </button>
  );
}

export function PlayerControls({ onFullscreen }: { onFullscreen: () => void }) {
  const { t } = useTranslation();
  const channel = usePlayerStore((s) => s.channel);
  const lastChannel = usePlayerStore((s) => s.lastChannel);
  const phase = usePlayerStore((s) => s.phase);
  const paused = usePlayerStore((s) => s.paused);
  const muted = usePlayerStore((s) => s.muted);
  const volume = usePlayerStore((s) => s.volume);
  const latencyS = usePlayerStore((s) => s.latencyS);
  const atLive = usePlayerStore((s) => s.atLive);
  const showStats = usePlayerStore((s) => s.showStats);
  const fullscreen = useIsFullscreen();
  const playing = phase === 'playing';
  // After Stop, Play starts the last channel again.
  const canPlay = playing || (channel === null && lastChannel !== null);
  const showPause = playing && !paused;

  return (
    <>
      {playing && muted && (
        <button
          type="button"
          className="unmute"
          data-testid="unmute"
          onClick={() => controls.setMuted(false)}
        >
          <Icon name="muted" /> {t('player.unmuteBanner')}
        </button>
      )}
      <div className="controls">
        <button
          type="button"
          className="icon-btn"
          data-testid="play-pause"
          disabled={!canPlay}
          onClick={() => controls.togglePause()}
          aria-label={showPause ? t('player.pause') : t('player.play')}
          title={`${showPause ? t('player.pause') : t('player.play')} (K)`}
        >
          <Icon name={showPause ? 'pause' : 'play'} />
        </button>
        <button
          type="button"
          className="icon-btn hide-narrow"
          data-testid="prev-channel"
          disabled={channel === null}
          onClick={() => playbackSession.zap(-1)}
          aria-label={t('player.prev')}
          title={`${t('player.prev')} (Page Up)`}
        >
          <Icon name="prev" />
        </button>
        <button
          type="button"
          className="icon-btn hide-narrow"
          data-testid="next-channel"
          disabled={channel === null}
          onClick={() => playbackSession.zap(1)}
          aria-label={t('player.next')}
          title={`${t('player.next')} (Page Down)`}
        >
          <Icon name="next" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="stop"
          disabled={channel === null}
          onClick={() => playbackSession.stop()}
          aria-label={t('player.stop')}
          title={t('player.stop')}
        >
          <Icon name="stop" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="mute"
          onClick={() => controls.setMuted(!muted)}
          aria-label={muted ? t('player.unmute') : t('player.mute')}
          aria-pressed={muted}
          title={`${muted ? t('player.unmute') : t('player.mute')} (M)`}
        >
          <Icon name={muted || volume === 0 ? 'muted' : 'volume'} />
        </button>
        <input
          type="range"
          className="volume hide-narrow"
          data-testid="volume"
          min={0}
          max={1}
          step={0.05}
          value={muted ? 0 : volume}
          aria-label={t('player.volume')}
          onChange={(e) => controls.setVolume(Number(e.target.value))}
        />
        <div className="controls-title">
          {channel && (
            <>
              {playing && <LiveBadge />}
              <span className="controls-channel" title={channel}>
                {channel}
              </span>
              {playing && atLive && latencyS !== null && (
                <span className="muted hide-narrow">
                  {t('player.behind', { seconds: fmtSeconds(latencyS, 1) })}
                </span>
              )}
            </>
          )}
        </div>
        <button
          type="button"
          className="icon-btn hide-narrow"
          data-testid="help-toggle"
          onClick={() => useUiStore.setState({ helpOpen: true })}
          aria-label={t('player.help')}
          title={`${t('player.help')} (?)`}
        >
          <span className="key-glyph" aria-hidden="true">
            ?
          </span>
        </button>
        <button
          type="button"
          className={`icon-btn ${showStats ? 'icon-btn-on' : ''}`}
          data-testid="stats-toggle"
          onClick={() => usePlayerStore.setState({ showStats: !showStats })}
          aria-label={t('player.stats')}
          aria-pressed={showStats}
          title={`${t('player.stats')} (S)`}
        >
          <Icon name="stats" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="fullscreen"
          onClick={onFullscreen}
          aria-label={fullscreen ? t('player.exitFullscreen') : t('player.fullscreen')}
          title={`${fullscreen ? t('player.exitFullscreen') : t('player.fullscreen')} (F)`}
        >
          <Icon name={fullscreen ? 'exitFullscreen' : 'fullscreen'} />
        </button>
      </div>
    </>
  );
}
