/**
 * How a process that runs the viewer core uses V8 (the desktop app's main process, `swarmcast
 * peer` and `swarmcast web`; not the servers or seeds, whose work is heavier and steadier).
 *
 * - V8's optimising compiler only while some channel fetches without peers. With peers (P2P
 *   on, normal latency: the default) a viewer's JavaScript is a little work many times a
 *   second (a message, a manifest, a tick), never hot: TurboFan's code saved the main thread
 *   what its compile threads spent, and cost ~6 MB per viewer (the compiler's code pages, zones
 *   and optimised code). Without peers (low latency or P2P off) the live edge comes from the
 *   CDN tag by tag, and the compiler pays: without it that mode took 17 % more CPU (4.26 -> 4.97
 *   % of a core), so there the runtime is left as V8 makes it.
 *   `--max-opt` is read at each tier-up, so switching applies from then on.
 * - A full collection when ArrayBuffer memory has grown by RECLAIM_BYTES since the last one.
 *   Segments live in the cache for the live window (30 s), long enough to be promoted to V8's
 *   old generation, so an evicted segment's bytes are freed only by a full collection; V8 waits
 *   for 64 MB of such memory, or for its small heap to grow, which in an idle viewer took about
 *   a minute: 5–8 MB of dead segments held at any time. Since the cache frees an evicted
 *   segment's memory itself (segment-cache.ts freeNow) this is a backstop that seldom fires:
 *   10 viewers, half of them without freeNow (2026-12-04), main thread 1.07–1.08 against
 *   1.13–1.14 % of a core, V8's other threads 0.03–0.04 against 0.09–0.10, RSS 1.5 MB lower.
 *
 * Same swarm, 8 viewers and a seed, half of them with this (2026-12-03): normal mode RSS 85.1
 * -> 75.4 MB at its highest, CPU 2.29 -> 2.41 % of a core (native 0.96 -> 1.04: those viewers
 * uploaded more; 2.92 -> 2.88 in a run of the build that went lean from the start); low latency
 * CPU 3.88 -> 3.88.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { everyBeat } from '../common/heartbeat';

/** Dead segment bytes worth a full collection (about 30 s of a 1 Mbit/s stream). */
export const RECLAIM_BYTES = 4 * 1024 * 1024;
/** At most one collection in this long, whatever the bitrate (a collection takes 5–20 ms here). */
export const RECLAIM_MIN_INTERVAL_MS = 10_000;
const CHECK_EVERY_MS = 2_000;

export interface ReclaimState {
  /** ArrayBuffer bytes just after the last full collection (the smallest seen since). */
  floor: number;
  /** When the last collection was asked for (ms). */
  lastAt: number;
}

/** Whether to collect now; `state.floor` follows the ArrayBuffer bytes down (V8's own collections). */
export function reclaimDue(state: ReclaimState, arrayBuffers: number, now: number): boolean {
  if (arrayBuffers < state.floor) state.floor = arrayBuffers;
  return arrayBuffers - state.floor >= RECLAIM_BYTES && now - state.lastAt >= RECLAIM_MIN_INTERVAL_MS;
}

let started = false;
let lean = false;

/**
 * Starts the collector in this process (once); the runtime stays as V8 makes it until the entry
 * point calls setLeanRuntime(true) (the core's first pass with peers), so a low-latency viewer
 * never switches. The collector's beat does not keep the process alive.
 */
export function leanViewerRuntime(log?: (msg: string) => void): void {
  if (started) return;
  started = true;
  const gc = exposeGc();
  if (!gc) {
    log?.('no full-collection hook in this runtime; dead segment memory waits for V8');
    return;
  }
  const state: ReclaimState = { floor: process.memoryUsage().arrayBuffers, lastAt: Date.now() };
  everyBeat(
    CHECK_EVERY_MS,
    () => {
      const now = Date.now();
      if (!lean || !reclaimDue(state, process.memoryUsage().arrayBuffers, now)) return;
      gc();
      state.lastAt = now;
      state.floor = process.memoryUsage().arrayBuffers;
    },
    { keepAlive: false },
  );
}

/**
 * Lean: no optimising compiler for the functions that get hot from now on, and the collector
 * running. Not lean: V8 as it comes (the live edge from the CDN tag by tag, where TurboFan pays
 * and where the collector's frequent full collections cost more than the memory they save).
 */
export function setLeanRuntime(on: boolean): void {
  if (on === lean) return;
  lean = on;
  // --max-opt=1: the interpreter and Sparkplug's baseline code only (it implies --no-turbofan,
  // which the way back must undo); 999 is V8's default, any tier.
  if (!on) setFlagsFromString('--turbofan');
  setFlagsFromString(on ? '--max-opt=1' : '--max-opt=999');
}

/**
 * V8's `gc()`, which Node exposes only with --expose-gc on its command line: set at run time,
 * the flag applies to contexts made after it, so a new context hands the function over. The
 * same two lines as the `expose-gc` package, without a dependency for them.
 */
function exposeGc(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => (gc as () => void)() : null;
  } catch {
    return null;
  }
}
