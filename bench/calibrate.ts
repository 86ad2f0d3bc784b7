/**
 * A same-run baseline for figures taken minutes apart: the machine's own speed, sampled by timing
 * a fixed piece of work every few seconds in the bench process. These VMs drift by tens of per
 * cent within ten minutes (neighbours on the host, frequency), and a viewer's CPU per second
 * moves with them; dividing a later figure's ratio by the probe's ratio over the same windows
 * separates what the viewer grows from what the machine does.
 *
 * The work mixes what a viewer spends its time on: hashing (SHA-256, as segment checks and
 * DTLS's ciphers are native code) and JavaScript objects (JSON in and out, as messages and
 * manifests). About 5–10 ms a probe: a probe every 2 s costs the run well under 1 % of a core.
 */
import { createHash } from 'node:crypto';
import { median } from './report';

const HASH_BYTES = Buffer.alloc(1 << 20, 0x5a);
const OBJECTS = Array.from({ length: 200 }, (_, i) => ({
  seq: i,
  size: 140_000 + i,
  sha256: 'ab'.repeat(32),
  keyframeOffset: i % 3 === 0 ? null : i * 7,
}));

/**
 * The fixed work; returns the CPU time it took (ms), not its wall time: the viewers beside it
 * would otherwise slow the probe down by contention, and a viewer growing costlier would be
 * mistaken for the machine getting slower. CPU time is also the unit of the viewers' figures.
 */
function probeMs(): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < 2; i++) createHash('sha256').update(HASH_BYTES).digest();
  let n = 0;
  for (let i = 0; i < 5; i++) n += (JSON.parse(JSON.stringify(OBJECTS)) as unknown[]).length;
  if (n !== 5 * OBJECTS.length) throw new Error('calibration probe: lost objects');
  const used = process.cpuUsage(t0);
  return (used.user + used.system) / 1000;
}

export interface Calibration {
  /** Median probe time (ms) of the probes taken within [fromMs, toMs] (epoch ms), null if none. */
  medianMs(fromMs: number, toMs: number): number | null;
  stop(): void;
}

export function startCalibration(periodMs = 2000): Calibration {
  const samples: { t: number; ms: number }[] = [];
  probeMs(); // warm the code paths; its time is not kept
  const timer = setInterval(() => samples.push({ t: Date.now(), ms: probeMs() }), periodMs);
  timer.unref();
  return {
    medianMs(fromMs, toMs) {
      const ms = samples.filter((s) => s.t >= fromMs && s.t <= toMs).map((s) => s.ms);
      return ms.length > 0 ? median(ms) : null;
    },
    stop: () => clearInterval(timer),
  };
}
