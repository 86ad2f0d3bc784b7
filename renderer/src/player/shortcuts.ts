/**
 * Keyboard shortcuts, as a pure mapping from a key event to an action (tested without a page),
 * plus the one window listener that runs them. Keys people know from video players: space / k
 * play-pause, f full screen, m mute, ←/→ 5 s within the buffer, ↑/↓ volume, l (or End) jump to
 * live, Page Up/Down channels, s stats, ? help, Esc leaves full screen and closes the help.
 */
export type ShortcutAction =
  | { kind: 'toggle-pause' }
  | { kind: 'fullscreen' }
  | { kind: 'mute' }
  | { kind: 'seek'; seconds: number }
  | { kind: 'volume'; delta: number }
  | { kind: 'live' }
  | { kind: 'zap'; step: 1 | -1 }
  | { kind: 'stats' }
  | { kind: 'help' }
  | { kind: 'escape' };

export interface KeyLike {
  key: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  /** The focused element's tag (INPUT, BUTTON …) and whether it is editable. */
  targetTag: string | null;
  targetEditable: boolean;
}

export const SEEK_STEP_S = 5;
export const VOLUME_STEP = 0.05;

/** The action for a key, or null when the key is not ours (or a field or control has it). */
export function shortcutFor(e: KeyLike): ShortcutAction | null {
  if (e.altKey || e.ctrlKey || e.metaKey) return null;
  const typing =
    e.targetEditable || e.targetTag === 'INPUT' || e.targetTag === 'TEXTAREA' || e.targetTag === 'SELECT';
  if (typing) return e.key === 'Escape' ? { kind: 'escape' } : null;
  // A focused button or link takes space itself (it clicks); everything else is ours.
  const control = e.targetTag === 'BUTTON' || e.targetTag === 'A' || e.targetTag === 'SUMMARY';
  switch (e.key) {
    case ' ':
      return control ? null : { kind: 'toggle-pause' };
    case 'k':
    case 'K':
      return { kind: 'toggle-pause' };
    case 'f':
    case 'F':
      return { kind: 'fullscreen' };
    case 'm':
    case 'M':
      return { kind: 'mute' };
    case 'ArrowLeft':
      return { kind: 'seek', seconds: -SEEK_STEP_S };
    case 'ArrowRight':
      return { kind: 'seek', seconds: SEEK_STEP_S };
    case 'ArrowUp':
      return { kind: 'volume', delta: VOLUME_STEP };
    case 'ArrowDown':
      return { kind: 'volume', delta: -VOLUME_STEP };
    case 'l':
    case 'L':
    case 'End':
      return { kind: 'live' };
    case 'PageDown':
      return { kind: 'zap', step: 1 };
    case 'PageUp':
      return { kind: 'zap', step: -1 };
    case 's':
    case 'S':
      return { kind: 'stats' };
    case '?':
      return { kind: 'help' };
    case 'Escape':
      return { kind: 'escape' };
    default:
      return null;
  }
}

/** The rows of the help overlay: keys shown, and the i18n key of what they do. */
export const SHORTCUT_HELP = [
  { keys: ['Space', 'K'], what: 'shortcuts.playPause' },
  { keys: ['F'], what: 'shortcuts.fullscreen' },
  { keys: ['M'], what: 'shortcuts.mute' },
  { keys: ['↑', '↓'], what: 'shortcuts.volume' },
  { keys: ['←', '→'], what: 'shortcuts.seek' },
  { keys: ['L', 'End'], what: 'shortcuts.live' },
  { keys: ['PgUp', 'PgDn'], what: 'shortcuts.channels' },
  { keys: ['S'], what: 'shortcuts.stats' },
  { keys: ['Esc'], what: 'shortcuts.escape' },
  { keys: ['?'], what: 'shortcuts.help' },
] as const;
