/** Which view the window shows, and whether the shortcut help is open. */
import { create } from 'zustand';

export type View = 'watch' | 'golive';

interface UiState {
  view: View;
  helpOpen: boolean;
}

export const useUiStore = create<UiState>()(() => ({ view: 'watch', helpOpen: false }));
