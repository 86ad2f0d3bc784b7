/**
 * The core's stats ('stats' events) and a rolling 60-second history of what the player
 * measured, for the overlay's chart.
 */
import { create } from 'zustand';
import type { CoreStats } from '../../../common/ipc-contract';

export const HISTORY_WINDOW_S = 60;

export interface StatsHistory {
  /** Unix seconds (uPlot's x axis). */
  t: number[];
  latency: (number | null)[];
  buffer: number[];
}

interface StatsState {
  core: CoreStats | null;
  history: StatsHistory;
}

const emptyHistory = (): StatsHistory => ({ t: [], latency: [], buffer: [] });

export const useStatsStore = create<StatsState>()(() => ({
  core: null,
  history: emptyHistory(),
}));

export function setCoreStats(core: CoreStats): void {
  useStatsStore.setState({ core });
}

export function pushHistory(nowMs: number, latencyS: number | null, bufferS: number): void {
  const h = useStatsStore.getState().history;
  const t = nowMs / 1000;
  const cut = t - HISTORY_WINDOW_S;
  let i = 0;
  while (i < h.t.length && h.t[i]! < cut) i++;
  useStatsStore.setState({
    history: {
      t: [...h.t.slice(i), t],
      latency: [...h.latency.slice(i), latencyS],
      buffer: [...h.buffer.slice(i), bufferS],
    },
  });
}

export function clearHistory(): void {
  useStatsStore.setState({ history: emptyHistory() });
}
