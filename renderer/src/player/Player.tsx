/**
 * The video area: the <video> shown and its hidden spares (the next and previous channels wait
 * on them, paused: standby-players.ts), the status message, the stats overlay and the controls;
 * and the window's keyboard shortcuts (player/shortcuts.ts). A click on the picture pauses or
 * resumes, a double click toggles full screen.
 */
import { useEffect, useMemo, useRef } from 'react';
import { StatsOverlay } from '../stats/StatsOverlay';
import { usePlayerStore } from '../stores/player-store';
import { useUiStore } from '../stores/ui-store';
import { PlayerControls } from './PlayerControls';
import { StatusMessage } from './StatusMessage';
import { playbackSession } from './session';
import { type ShortcutAction, shortcutFor } from './shortcuts';
import * as controls from './user-controls';

/** The shown element and two spares (next and previous channel); keys of the slots. */
const VIDEO_SLOTS = ['a', 'b', 'c'] as const;

/** A single click waits this long for a second one, so a double click does not also pause. */
const CLICK_DELAY_MS = 220;

function runShortcut(action: ShortcutAction, player: HTMLElement | null, timeStamp: number): void {
  switch (action.kind) {
    case 'toggle-pause':
      controls.togglePause();
      return;
    case 'fullscreen':
      if (player) toggleFullscreen(player);
      return;
    case 'mute':
      controls.setMuted(!usePlayerStore.getState().muted);
      return;
    case 'seek':
      controls.seekBy(action.seconds);
      return;
    case 'volume':
      controls.volumeBy(action.delta);
      return;
    case 'live':
      controls.jumpToLive();
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
  const mounted = useRef(new Map<string, HTMLVideoElement>());
  const videoRefs = useMemo(
    () =>
      VIDEO_SLOTS.map((slot) => (el: HTMLVideoElement | null) => {
        const previous = mounted.current.get(slot) ?? null;
        if (el) mounted.current.set(slot, el);
        else mounted.current.delete(slot);
        playbackSession.attachVideo(el, previous);
      }),
    [],
  );
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
      controls.togglePause();
    }, CLICK_DELAY_MS);
  };
  const onDoubleClick = () => {
    if (clickTimer.current) clearTimeout(clickTimer.current);
    clickTimer.current = null;
    if (containerRef.current) toggleFullscreen(containerRef.current);
  };

  return (
    <div className={`player phase-${phase}`} ref={containerRef}>
      {VIDEO_SLOTS.map((slot, i) => (
        // biome-ignore lint/a11y/useMediaCaption: the live FLV streams carry no caption track
        <video
          key={slot}
          ref={videoRefs[i]}
          className="video"
          playsInline
          disablePictureInPicture
          onClick={onClick}
          onDoubleClick={onDoubleClick}
        />
      ))}
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
