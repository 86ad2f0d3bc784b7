/** A small uPlot chart of latency behind live and buffer ahead over the last 60 s. */
import { useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { useStatsStore } from '../stores/stats-store';
import { CHART_AXIS, useUplot } from './use-uplot';

export function LiveChart() {
  const { t } = useTranslation();
  const host = useRef<HTMLDivElement>(null);
  const latencyLabel = t('stats.chartLatency');
  const bufferLabel = t('stats.chartBuffer');
  useUplot(
    host,
    () => ({
      height: 110,
      options: {
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [
          { ...CHART_AXIS, values: (_u, ticks) => ticks.map(() => ''), size: 8 },
          { ...CHART_AXIS, size: 36, values: (_u, ticks) => ticks.map((v) => `${v}s`) },
        ],
        series: [
          {},
          { label: latencyLabel, stroke: '#5b8cff', width: 1.5, points: { show: false } },
          { label: bufferLabel, stroke: '#3ddc97', width: 1.5, points: { show: false } },
        ],
      },
      data: () => {
        const h = useStatsStore.getState().history;
        return [h.t, h.latency, h.buffer];
      },
      subscribe: (changed) =>
        useStatsStore.subscribe((s, prev) => {
          if (s.history !== prev.history) changed();
        }),
    }),
    `${latencyLabel}|${bufferLabel}`,
  );
  return <div className="chart" ref={host} data-testid="stats-chart" />;
}
