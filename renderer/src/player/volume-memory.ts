/**
 * Volume and mute, remembered between launches (localStorage: the renderer's own preference,
 * nothing the core needs). A corrupt or missing entry falls back to full volume with sound.
 */
const KEY = 'swarmcast.audio';

export interface AudioPrefs {
  volume: number;
  muted: boolean;
}

export const DEFAULT_AUDIO: AudioPrefs = { volume: 1, muted: false };

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (some privacy settings)
  }
}

export function loadAudioPrefs(): AudioPrefs {
  try {
    const raw = storage()?.getItem(KEY);
    if (!raw) return DEFAULT_AUDIO;
    const v = JSON.parse(raw) as Partial<AudioPrefs>;
    const volume = typeof v.volume === 'number' && v.volume >= 0 && v.volume <= 1 ? v.volume : 1;
    return { volume, muted: v.muted === true };
  } catch {
    return DEFAULT_AUDIO;
  }
}

export function saveAudioPrefs(p: AudioPrefs): void {
  try {
    storage()?.setItem(KEY, JSON.stringify({ volume: p.volume, muted: p.muted }));
  } catch {
    // full or disabled: the preference is just not kept
  }
}
