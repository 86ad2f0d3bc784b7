/**
 * The core's settings, fed by 'settings.get' at start (and after a reconnect) and by
 * 'settings.changed'. Until they arrive the contract's defaults apply, so the player can
 * always read liveSync thresholds from here. The settings pane (src/settings/) writes one field
 * at a time through patchSettings().
 */
import { create } from 'zustand';
import { DEFAULT_SETTINGS, type Settings, type SettingsPatch } from '../../../common/ipc-contract';
import { getApi } from '../api';

interface SettingsState {
  settings: Settings;
  /** True once the core's own settings have arrived. */
  loaded: boolean;
}

export const useSettingsStore = create<SettingsState>()(() => ({
  settings: DEFAULT_SETTINGS,
  loaded: false,
}));

export function applySettings(settings: Settings): void {
  useSettingsStore.setState({ settings, loaded: true });
}

export async function loadSettings(): Promise<void> {
  try {
    applySettings(await getApi().invoke('settings.get', {}));
  } catch {
    // Keep the defaults; the next reconnect or 'settings.changed' brings the real ones.
  }
}

/** For the settings pane: sends a patch and applies what the core answers. */
export async function patchSettings(patch: SettingsPatch): Promise<Settings> {
  const next = await getApi().invoke('settings.set', patch);
  applySettings(next);
  return next;
}
