/** uPlot chart of the streamer's room: P2P share (%) and CDN bytes saved (MB) over time. */
import { useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { CHART_AXIS, useUplot } from '../stats/use-uplot';
import { useRoomStore } from './room-history';

export function RoomChart() {
  const { t } = useTranslation();
  const host = useRef<HTMLElement>(null);
  const shareLabel = t('goLive.chartShare');
  const savedLabel = t('goLive.chartSaved');
  useUplot(
    host,
    () => ({
      height: 130,
      options: {
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: {
          x: { time: true },
          share: { range: [0, 100] },
          saved: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
        },
        axes: [
          { ...CHART_AXIS, size: 24 },
          { ...CHART_AXIS, scale: 'share', size: 36, values: (_u, ticks) => ticks.map((v) => `${v}%`) },
          { ...CHART_AXIS, scale: 'saved', side: 1, size: 40, grid: { show: false } },
        ],
        series: [
          {},
          { label: shareLabel, scale: 'share', stroke: '#3ddc97', width: 1.5, points: { show: false } },
          { label: savedLabel, scale: 'saved', stroke: '#5b8cff', width: 1.5, points: { show: false } },
        ],
      },
      data: () => {
        const h = useRoomStore.getState().history;
        return [h.t, h.share, h.savedMB];
      },
      subscribe: (changed) =>
        useRoomStore.subscribe((s, prev) => {
          if (s.history !== prev.history) changed();
        }),
    }),
    `${shareLabel}|${savedLabel}`,
  );
  return (
    <figure className="chart" ref={host} data-testid="golive-chart" aria-label={t('goLive.chartTitle')} />
  );
}
