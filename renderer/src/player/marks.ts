/** performance marks 'swarmcast:<step>' of the latest start-up, for benchmarks and debugging. */
const MARKS = ['open', 'load', 'first-data', 'jump', 'playing', 'first-frame'] as const;
export type StartupStep = (typeof MARKS)[number];

/** Marks a start-up step; 'open' clears the previous start-up's marks. */
export function mark(step: StartupStep): void {
  if (step === 'open') for (const m of MARKS) performance.clearMarks(`swarmcast:${m}`);
  performance.mark(`swarmcast:${step}`);
}
