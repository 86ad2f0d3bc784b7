import type { SwarmcastApi } from '../../common/ipc-contract';
import type { PlayerTestState } from './player/test-hook';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in browser mode. */
    swarmcast?: SwarmcastApi;
    /** Read-only view of the player for tests and benchmarks (every build). */
    __swarmcastPlayer?: {
      state(): PlayerTestState;
      coreOpen(): Promise<{ players: number; streams: number; channels: number }>;
    };
  }
}
