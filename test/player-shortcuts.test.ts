/** Keyboard shortcuts as a pure mapping (table-driven), and the connection badge's states. */
import { describe, expect, it } from 'vitest';
import { type KeyLike, SEEK_STEP_S, SHORTCUT_HELP, shortcutFor } from '../renderer/src/player/shortcuts';

const key = (k: string, more: Partial<KeyLike> = {}): KeyLike => ({
  key: k,
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  targetTag: 'BODY',
  targetEditable: false,
  ...more,
});

describe('shortcutFor', () => {
  it.each([
    [' ', 'toggle-pause'],
    ['k', 'toggle-pause'],
    ['K', 'toggle-pause'],
    ['f', 'fullscreen'],
    ['m', 'mute'],
    ['ArrowLeft', 'seek'],
    ['ArrowRight', 'seek'],
    ['ArrowUp', 'volume'],
    ['ArrowDown', 'volume'],
    ['l', 'live'],
    ['End', 'live'],
    ['PageDown', 'zap'],
    ['PageUp', 'zap'],
    ['s', 'stats'],
    ['?', 'help'],
    ['Escape', 'escape'],
  ])('%j → %s', (k, kind) => {
    expect(shortcutFor(key(k))?.kind).toBe(kind);
  });

  it('seeks 5 s each way and zaps forward on Page Down', () => {
    expect(shortcutFor(key('ArrowLeft'))).toEqual({ kind: 'seek', seconds: -SEEK_STEP_S });
    expect(shortcutFor(key('ArrowRight'))).toEqual({ kind: 'seek', seconds: SEEK_STEP_S });
    expect(shortcutFor(key('PageDown'))).toEqual({ kind: 'zap', step: 1 });
    expect(shortcutFor(key('PageUp'))).toEqual({ kind: 'zap', step: -1 });
  });

  it.each([
    ['typing in a field', key('k', { targetTag: 'INPUT' })],
    ['typing in a textarea', key('m', { targetTag: 'TEXTAREA' })],
    ['a select has arrows', key('ArrowDown', { targetTag: 'SELECT' })],
    ['contenteditable', key('f', { targetEditable: true })],
    ['with Ctrl (browser zoom, copy …)', key('f', { ctrlKey: true })],
    ['with Cmd', key('m', { metaKey: true })],
    ['with Alt', key('ArrowLeft', { altKey: true })],
    ['space on a focused button clicks it', key(' ', { targetTag: 'BUTTON' })],
    ['unknown key', key('x')],
  ])('leaves the key alone: %s', (_why, e) => {
    expect(shortcutFor(e)).toBeNull();
  });

  it('Escape still works from a text field', () => {
    expect(shortcutFor(key('Escape', { targetTag: 'INPUT' }))).toEqual({ kind: 'escape' });
  });

  it('the help lists every action', () => {
    const kinds = new Set(
      ['k', 'f', 'm', 'ArrowUp', 'ArrowLeft', 'l', 'PageDown', 's', 'Escape', '?'].map(
        (k) => shortcutFor(key(k))?.kind,
      ),
    );
    expect(SHORTCUT_HELP.length).toBe(kinds.size);
  });
});
