/**
 * How late this process's event loop runs right now. A message from a neighbour waits in the
 * loop's queue before we read its timestamp, so on a busy machine every one-way delay and
 * round-trip sample grows by the loop's lag although the network queue did not: the delay-
 * based rate control would then throttle the upload of a CPU-starved viewer to nothing. The
 * samples are discounted by this figure: the largest timer lateness of the last few ticks.
 */
const TICK_MS = 100;
const KEEP = 3;

let timer: NodeJS.Timeout | null = null;
let users = 0;
let expected = 0;
const recent: number[] = [];

function tick(): void {
  const now = performance.now();
  recent.push(Math.max(0, now - expected));
  if (recent.length > KEEP) recent.shift();
  expected = now + TICK_MS;
}

/** Starts measuring (reference-counted); the returned function stops this user's interest. */
export function watchLoopLag(): () => void {
  users++;
  if (!timer) {
    expected = performance.now() + TICK_MS;
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    if (--users === 0 && timer) {
      clearInterval(timer);
      timer = null;
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
