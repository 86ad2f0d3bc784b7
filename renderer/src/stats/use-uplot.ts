/**
 * A uPlot chart in a React element: made once per `key` (labels change with the language),
 * fed from a store as it changes, resized with its element, destroyed on unmount.
 */
import { type RefObject, useEffect } from 'react';
import uPlot from 'uplot';

export const CHART_AXIS = {
  stroke: '#8b93a7',
  grid: { stroke: 'rgba(255,255,255,0.06)' },
  ticks: { show: false },
};

export interface ChartSpec {
  height: number;
  /** Everything but width and height. */
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: () => uPlot.AlignedData;
  /** Calls `changed` when the data may have changed; returns the unsubscribe. */
  subscribe: (changed: () => void) => () => void;
}

export function useUplot(host: RefObject<HTMLElement | null>, spec: () => ChartSpec, key: string): void {
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` is what remakes the chart; `spec` is a new closure every render
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const s = spec();
    const width = () => Math.max(200, el.clientWidth);
    const chart = new uPlot({ ...s.options, width: width(), height: s.height }, s.data(), el);
    const unsubscribe = s.subscribe(() => chart.setData(s.data()));
    const resize = new ResizeObserver(() => chart.setSize({ width: width(), height: s.height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      unsubscribe();
      chart.destroy();
    };
  }, [key]);
}
