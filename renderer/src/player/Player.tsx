/**
 * The video area: the one <video>, the status message, the stats overlay and the controls;
 * and the window's keyboard shortcuts (player/shortcuts.ts). A click on the picture pauses or
 * resumes, a double click toggles full screen.
 */
import { useCallback, useEffect, useRef } from 'react';
import { StatsOverlay } from '../stats/StatsOverlay';
import { usePlayerStore } from '../stores/player-store';
import { useUiStore } from '../stores/ui-store';
import { PlayerControls } from './PlayerControls';
import { StatusMessage } from './StatusMessage';
import { playbackSession } from './session';
import { type ShortcutAction, shortcutFor } from './shortcuts';

/** A single click waits this long for a second one, so a double click does not also pause. */
const CLICK_DELAY_MS = 220;

function runShortcut(action: ShortcutAction, player: HTMLElement | null, timeStamp: number): void {
  switch (action.kind) {
    case 'toggle-pause':
      playbackSession.togglePause();
      return;
    case 'fullscreen':
      if (player) toggleFullscreen(player);
      return;
    case 'mute':
      playbackSession.setMuted(!usePlayerStore.getState().muted);
      return;
    case 'seek':
      playbackSession.seekBy(action.seconds);
      return;
    case 'volume':
      playbackSession.volumeBy(action.delta);
      return;
    case 'live':
      playbackSession.jumpToLive();
      return;
    case 'zap':
      playbackSession.zap(action.step, timeStamp > 0 ? timeStamp : performance.now());
      return;
    case 'stats':
      usePlayerStore.setState((s) => ({ showStats: !s.showStats }));
      return;
    case 'help':
      useUiStore.setState((s) => ({ helpOpen: !s.helpOpen }));
      return;
    case 'escape':
      if (useUiStore.getState().helpOpen) useUiStore.setState({ helpOpen: false });
      else if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
      return;
    default: {
      const never: never = action;
      return never;
    }
  }
}

export function Player() {
  const containerRef = useRef<HTMLDivElement>(null);
  const clickTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const showStats = usePlayerStore((s) => s.showStats);
  const phase = usePlayerStore((s) => s.phase);
  const videoRef = useCallback((el: HTMLVideoElement | null) => playbackSession.attachVideo(el), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // A modal dialog (settings) has the keys, except Escape, which it handles itself.
      if (document.querySelector('dialog[open]')) return;
      const t = e.target instanceof HTMLElement ? e.target : null;
      const action = shortcutFor({
        key: e.key,
        altKey: e.altKey,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
        targetTag: t?.tagName ?? null,
        targetEditable: t?.isContentEditable ?? false,
      });
      if (!action) return;
      // In a text field Escape leaves the field's own behaviour alone unless the help is open.
      if (action.kind === 'escape' && !useUiStore.getState().helpOpen && !document.fullscreenElement) return;
      e.preventDefault();
      runShortcut(action, containerRef.current, e.timeStamp);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const onClick = () => {
    if (clickTimer.current) return;
    clickTimer.current = setTimeout(() => {
      clickTimer.current = null;
      playbackSession.togglePause();
    }, CLICK_DELAY_MS);
  };
  const onDoubleClick = () => {
    if (clickTimer.current) clearTimeout(clickTimer.current);
    clickTimer.current = null;
    if (containerRef.current) toggleFullscreen(containerRef.current);
  };

  return (
    <div className={`player phase-${phase}`} ref={containerRef}>
      {/* biome-ignore lint/a11y/useMediaCaption: the live FLV streams carry no caption track */}
      <video
        ref={videoRef}
        data-testid="video"
        className="video"
        playsInline
        disablePictureInPicture
        onClick={onClick}
        onDoubleClick={onDoubleClick}
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
