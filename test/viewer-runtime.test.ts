/**
 * The viewer process's V8 settings: the collector's rule (table-driven, fake clock) and, in a
 * child process of its own (the flags are process-wide), that dead ArrayBuffer memory old
 * enough to sit in V8's old generation is given back without waiting for V8.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  RECLAIM_BYTES,
  RECLAIM_MIN_INTERVAL_MS,
  type ReclaimState,
  reclaimDue,
} from '../main/viewer-runtime';

const MB = 1024 * 1024;

describe('reclaimDue', () => {
  const cases: Array<{
    what: string;
    state: ReclaimState;
    bytes: number;
    now: number;
    due: boolean;
    floor: number;
  }> = [
    {
      what: 'little growth',
      state: { floor: 10 * MB, lastAt: 0 },
      bytes: 12 * MB,
      now: 60_000,
      due: false,
      floor: 10 * MB,
    },
    {
      what: 'enough growth, long enough since the last',
      state: { floor: 10 * MB, lastAt: 0 },
      bytes: 10 * MB + RECLAIM_BYTES,
      now: RECLAIM_MIN_INTERVAL_MS,
      due: true,
      floor: 10 * MB,
    },
    {
      what: 'enough growth, too soon after the last',
      state: { floor: 10 * MB, lastAt: 50_000 },
      bytes: 30 * MB,
      now: 50_000 + RECLAIM_MIN_INTERVAL_MS - 1,
      due: false,
      floor: 10 * MB,
    },
    {
      what: 'V8 collected on its own: the floor follows down',
      state: { floor: 10 * MB, lastAt: 0 },
      bytes: 6 * MB,
      now: 60_000,
      due: false,
      floor: 6 * MB,
    },
  ];
  it.each(cases)('$what', ({ state, bytes, now, due, floor }) => {
    expect(reclaimDue(state, bytes, now)).toBe(due);
    expect(state.floor).toBe(floor);
  });
});

/** Runs `body` in a child Node (tsx) after importing the runtime module; returns its last stdout line as JSON. */
async function inChild<T>(body: string, nodeFlags: string[] = []): Promise<T> {
  const runtime = pathToFileURL(fileURLToPath(new URL('../main/viewer-runtime.ts', import.meta.url))).href;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const script = `import * as runtime from ${JSON.stringify(runtime)};\n${body}`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...nodeFlags, '--import', tsx, '--input-type=module', '-e', script],
    { timeout: 40_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

describe('leanViewerRuntime', () => {
  it('keeps hot code out of TurboFan while lean, and lets it in again when not', async () => {
    // %GetOptimizationStatus bit 64: TurboFan code.
    const r = await inChild<{ lean: boolean; after: boolean }>(
      `
      const hot = (a) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; };
      const turbo = (f) => (eval('%GetOptimizationStatus(f)') & 64) !== 0;
      const a = new Array(1000).fill(1);
      runtime.leanViewerRuntime();
      runtime.setLeanRuntime(true);
      for (let i = 0; i < 100_000; i++) hot(a);
      const lean = turbo(hot);
      runtime.setLeanRuntime(false);
      for (let i = 0; i < 100_000 && !turbo(hot); i++) hot(a);
      console.log(JSON.stringify({ lean, after: turbo(hot) }));
      process.exit(0);
    `,
      ['--allow-natives-syntax'],
    );
    expect(r).toEqual({ lean: false, after: true });
  }, 60_000);

  it('gives back dead old-generation ArrayBuffer memory without waiting for V8', async () => {
    // 40 "segments" held long enough to be promoted (several scavenges), then all dropped; with
    // no allocation after that, V8 alone has no reason to run a full collection for a long time
    // (it had not after 20 s when tried).
    const r = await inChild<{ before: number; after: number }>(`
      runtime.leanViewerRuntime((m) => { console.log(JSON.stringify({ warn: m })); process.exit(3); });
      runtime.setLeanRuntime(true);
      let held = [];
      for (let i = 0; i < 40; i++) held.push(new Uint8Array(150_000).fill(i));
      for (let i = 0; i < 200; i++) new Array(50_000).fill(i);
      const before = process.memoryUsage().arrayBuffers;
      held = null;
      const start = Date.now();
      while (process.memoryUsage().arrayBuffers > before / 4 && Date.now() - start < 20_000)
        await new Promise((r) => setTimeout(r, 200));
      console.log(JSON.stringify({ before, after: process.memoryUsage().arrayBuffers }));
    `);
    expect(r.before).toBeGreaterThan(5 * MB);
    expect(r.after).toBeLessThan(r.before / 4);
  }, 60_000);
});
