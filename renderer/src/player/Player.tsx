/** The video area: the one <video>, the status message, the stats overlay and the controls. */
import { useCallback, useEffect, useRef } from 'react';
import { StatsOverlay } from '../stats/StatsOverlay';
import { usePlayerStore } from '../stores/player-store';
import { PlayerControls } from './PlayerControls';
import { StatusMessage } from './StatusMessage';
import { playbackSession } from './session';

export function Player() {
  const containerRef = useRef<HTMLDivElement>(null);
  const showStats = usePlayerStore((s) => s.showStats);
  const phase = usePlayerStore((s) => s.phase);
  const videoRef = useCallback((el: HTMLVideoElement | null) => playbackSession.attachVideo(el), []);
  useEffect(() => {
    // Page Down / Page Up: next / previous channel, unless a text field or list has the keys.
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'PageDown' && e.key !== 'PageUp') return;
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
      e.preventDefault();
      playbackSession.zap(e.key === 'PageDown' ? 1 : -1, e.timeStamp > 0 ? e.timeStamp : performance.now());
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className={`player phase-${phase}`} ref={containerRef}>
      {/* biome-ignore lint/a11y/useMediaCaption: the live FLV streams carry no caption track */}
      <video
        ref={videoRef}
        data-testid="video"
        className="video"
        playsInline
        disablePictureInPicture
        onDoubleClick={() => containerRef.current && toggleFullscreen(containerRef.current)}
      />
      <StatusMessage />
      {showStats && <StatsOverlay />}
      <PlayerControls onFullscreen={() => containerRef.current && toggleFullscreen(containerRef.current)} />
    </div>
  );
}

export function toggleFullscreen(el: HTMLElement): void {
  if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
  else void el.requestFullscreen().catch(() => {});
}
