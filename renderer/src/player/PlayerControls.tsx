/** Play/pause, stop, unmute and volume, stats toggle, fullscreen. */
import { useEffect, useState } from 'react';
import { fmtSeconds } from '../format';
import { usePlayerStore } from '../stores/player-store';
import { Icon } from './icons';
import { playbackSession } from './session';

function useIsFullscreen(): boolean {
  const [fs, setFs] = useState(() => document.fullscreenElement !== null);
  useEffect(() => {
    const on = () => setFs(document.fullscreenElement !== null);
    document.addEventListener('fullscreenchange', on);
    return () => document.removeEventListener('fullscreenchange', on);
  }, []);
  return fs;
}

export function PlayerControls({ onFullscreen }: { onFullscreen: () => void }) {
  const channel = usePlayerStore((s) => s.channel);
  const phase = usePlayerStore((s) => s.phase);
  const paused = usePlayerStore((s) => s.paused);
  const muted = usePlayerStore((s) => s.muted);
  const volume = usePlayerStore((s) => s.volume);
  const latencyS = usePlayerStore((s) => s.latencyS);
  const showStats = usePlayerStore((s) => s.showStats);
  const fullscreen = useIsFullscreen();
  const playing = phase === 'playing';

  return (
    <>
      {playing && muted && (
        <button
          type="button"
          className="unmute"
          data-testid="unmute"
          onClick={() => playbackSession.setMuted(false)}
        >
          <Icon name="muted" /> Tap to unmute
        </button>
      )}
      <div className="controls">
        <button
          type="button"
          className="icon-btn"
          data-testid="play-pause"
          disabled={!playing}
          onClick={() => playbackSession.togglePause()}
          aria-label={paused ? 'Play' : 'Pause'}
          title={paused ? 'Play' : 'Pause'}
        >
          <Icon name={paused || !playing ? 'play' : 'pause'} />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="prev-channel"
          disabled={channel === null}
          onClick={() => playbackSession.zap(-1)}
          aria-label="Previous channel"
          title="Previous channel (Page Up)"
        >
          <Icon name="prev" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="next-channel"
          disabled={channel === null}
          onClick={() => playbackSession.zap(1)}
          aria-label="Next channel"
          title="Next channel (Page Down)"
        >
          <Icon name="next" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="stop"
          onClick={() => playbackSession.stop()}
          aria-label="Stop"
          title="Stop"
        >
          <Icon name="stop" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="mute"
          onClick={() => playbackSession.setMuted(!muted)}
          aria-label={muted ? 'Unmute' : 'Mute'}
          title={muted ? 'Unmute' : 'Mute'}
        >
          <Icon name={muted || volume === 0 ? 'muted' : 'volume'} />
        </button>
        <input
          type="range"
          className="volume"
          data-testid="volume"
          min={0}
          max={1}
          step={0.05}
          value={muted ? 0 : volume}
          aria-label="Volume"
          onChange={(e) => playbackSession.setVolume(Number(e.target.value))}
        />
        <div className="controls-title">
          {channel && (
            <>
              {playing && <span className="live-pill">LIVE</span>}
              <span className="controls-channel">{channel}</span>
              {playing && latencyS !== null && (
                <span className="muted">{fmtSeconds(latencyS, 1)} behind</span>
              )}
            </>
          )}
        </div>
        <button
          type="button"
          className={`icon-btn ${showStats ? 'icon-btn-on' : ''}`}
          data-testid="stats-toggle"
          onClick={() => usePlayerStore.setState({ showStats: !showStats })}
          aria-label="Stats"
          aria-pressed={showStats}
          title="Stats"
        >
          <Icon name="stats" />
        </button>
        <button
          type="button"
          className="icon-btn"
          data-testid="fullscreen"
          onClick={onFullscreen}
          aria-label={fullscreen ? 'Exit full screen' : 'Full screen'}
          title={fullscreen ? 'Exit full screen' : 'Full screen'}
        >
          <Icon name={fullscreen ? 'exitFullscreen' : 'fullscreen'} />
        </button>
      </div>
    </>
  );
}
