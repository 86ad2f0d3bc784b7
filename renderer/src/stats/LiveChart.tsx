/** A small uPlot chart of latency behind live and buffer ahead over the last 60 s. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { type StatsHistory, useStatsStore } from '../stores/stats-store';

const HEIGHT = 110;
const AXIS = { stroke: '#8b93a7', grid: { stroke: 'rgba(255,255,255,0.06)' }, ticks: { show: false } };

function toData(h: StatsHistory): uPlot.AlignedData {
  return [h.t, h.latency, h.buffer];
}

export function LiveChart() {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      legend: { show: true, live: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [
        { ...AXIS, values: (_u, ticks) => ticks.map(() => ''), size: 8 },
        { ...AXIS, size: 36, values: (_u, ticks) => ticks.map((v) => `${v}s`) },
      ],
      series: [
        {},
        { label: 'latency', stroke: '#5b8cff', width: 1.5, points: { show: false } },
        { label: 'buffer', stroke: '#3ddc97', width: 1.5, points: { show: false } },
      ],
    };
    const chart = new uPlot(opts, toData(useStatsStore.getState().history), el);
    const unsubscribe = useStatsStore.subscribe((s, prev) => {
      if (s.history !== prev.history) chart.setData(toData(s.history));
    });
    const resize = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      unsubscribe();
      chart.destroy();
    };
  }, []);

  return <div className="chart" ref={host} data-testid="stats-chart" />;
}
