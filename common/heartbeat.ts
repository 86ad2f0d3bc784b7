/**
 * One timer for a process's periodic work. The engine's deadline tick, the gateway's gap check,
 * the peer node's maintenance, the loop-lag probe and the headless player each owned a
 * setInterval at its own phase: ~33 wake-ups a second for one viewer, two 100-ms timers 2 ms
 * apart waking the event loop twice every tenth of a second. A wake-up is not free: on the
 * build machine (a VM) an idle process costs 1 % of a core at 100 wake-ups a second, and on a
 * laptop each one keeps the CPU from its idle states. Here every period is a whole number of
 * beats of BEAT_MS, and all the work due at a beat runs in that beat's one wake-up.
 *
 * A beat is a quarter of a second. At a tenth (as it was) the beat was half of all the times a
 * viewer's event loop woke (~20 a second, strace; the rest are messages, responses and their
 * timers), and none of its tasks needs it that often: the player's playhead moves on data as well
 * (headless-player.ts), live sync decides every 250 ms in the renderer too, and deadlines are
 * planned with margins of most of a second (planner.ts).
 *
 * Pure timers, no Node API: the renderer could use it too. The timer exists only while
 * something is scheduled (so a test that installs fake timers before it starts its parts gets
 * a fake beat), and keeps the process alive only while a task asks it to.
 */
export const BEAT_MS = 250;

interface Task {
  /** Runs at beats that are a multiple of this. */
  every: number;
  fn: () => void;
  keepAlive: boolean;
}

type Timer = ReturnType<typeof setInterval>;

const tasks = new Set<Task>();
/** The tasks as an array, rebuilt when they change: a beat walks it without copying the set. */
let taskList: Task[] = [];
let timer: Timer | null = null;
let beat = 0;
let lastBeatAt = 0;
let latenessMs = 0;

function now(): number {
  return performance.now();
}

function onBeat(): void {
  const t = now();
  // setInterval plans the next beat from when this one started: its lateness is the loop's lag.
  latenessMs = Math.max(0, t - lastBeatAt - BEAT_MS);
  lastBeatAt = t;
  beat++;
  // A task may stop itself or others: the list is replaced then, not changed, and a stopped
  // task is skipped.
  const list = taskList;
  for (let i = 0; i < list.length; i++) {
    const task = list[i]!;
    if (beat % task.every === 0 && tasks.has(task)) task.fn();
  }
}

function refresh(): void {
  taskList = [...tasks];
  if (tasks.size === 0) {
    if (timer !== null) clearInterval(timer);
    timer = null;
    latenessMs = 0;
    return;
  }
  if (timer === null) {
    beat = 0;
    lastBeatAt = now();
    timer = setInterval(onBeat, BEAT_MS);
  }
  const alive = taskList.some((t) => t.keepAlive);
  const handle = timer as { ref?: () => void; unref?: () => void };
  if (alive) handle.ref?.();
  else handle.unref?.();
}

/**
 * Calls `fn` every `periodMs`, rounded to whole beats (at least one), from the process's one
 * heartbeat, until the returned function is called. `keepAlive: false` is setInterval's unref():
 * the task alone does not keep a Node process running.
 */
export function everyBeat(periodMs: number, fn: () => void, opts: { keepAlive?: boolean } = {}): () => void {
  const every = Math.max(1, Math.round(periodMs / BEAT_MS));
  const task: Task = {
    every: Number.isFinite(every) ? every : Number.MAX_SAFE_INTEGER,
    fn,
    keepAlive: opts.keepAlive ?? true,
  };
  tasks.add(task);
  refresh();
  return () => {
    if (tasks.delete(task)) refresh();
  };
}

/** How late the last beat ran (ms): the event loop's lag, 0 when nothing is scheduled. */
export function beatLatenessMs(): number {
  return latenessMs;
}
