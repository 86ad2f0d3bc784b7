/**
 * Shared output for benchmarks (SYSTEM.md): one JSON object per line on stdout, ending with
 * a summary line that holds "bench" and its figures; the summary also goes to
 * bench/results/<bench>.json.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

export type Figures = Record<string, string | number | boolean | null>;

/** Prints one JSON object as one line on stdout. */
export function printLine(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/**
 * Prints the summary line (last) and writes it to bench/results/<bench>.json; returns the file
 * path. With save false (smoke runs: `--no-save`) it only prints, and returns null.
 */
export async function writeSummary(bench: string, figures: Figures, save = true): Promise<string | null> {
  const summary = { bench, ...figures, at: new Date().toISOString() };
  printLine(summary);
  if (!save) return null;
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${bench}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}

/** The p-th percentile (0..100) by linear interpolation between closest ranks; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Rounds to `digits` decimals (figures are for people, not for more arithmetic). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
