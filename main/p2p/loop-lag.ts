/**
 * How late this process's event loop runs right now. A message from a neighbour waits in the
 * loop's queue before we read its timestamp, so on a busy machine every one-way delay and
 * round-trip sample grows by the loop's lag although the network queue did not: the delay-
 * based rate control would then throttle the upload of a CPU-starved viewer to nothing. The
 * samples are discounted by this figure: the largest lateness of the last few beats of the
 * process's heartbeat (common/heartbeat.ts).
 */
import { BEAT_MS, beatLatenessMs, everyBeat } from '../../common/heartbeat';

const KEEP = 3;

let stopBeat: (() => void) | null = null;
let users = 0;
const recent: number[] = [];

function tick(): void {
  recent.push(beatLatenessMs());
  if (recent.length > KEEP) recent.shift();
}

/** Starts measuring (reference-counted); the returned function stops this user's interest. */
export function watchLoopLag(): () => void {
  users++;
  // Every beat of the process's heartbeat: its lateness is the loop's lag.
  if (!stopBeat) stopBeat = everyBeat(BEAT_MS, tick, { keepAlive: false });
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    if (--users === 0 && stopBeat) {
      stopBeat();
      stopBeat = null;
      recent.length = 0;
    }
  };
}

/** The event loop's recent lag (ms): what to take off a delay sample read now. */
export function loopLagMs(): number {
  let max = 0;
  for (const v of recent) if (v > max) max = v;
  return max;
}
