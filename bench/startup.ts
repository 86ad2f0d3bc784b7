/**
 * `npm run bench:startup [-- --runs N]`: time to first frame and latency behind live, in
 * headless Chromium (Debian's chromium through playwright-core), N runs each (default 10),
 * a fresh browser profile every run.
 *
 * (a) Swarmcast browser mode, cold: a fresh `swarmcast web` core per run (latency mode 'low',
 *     P2P off: the CDN path), so the channel join (COM, manifest, init, segments) is part of
 *     it. From the click on `channel-demo` to the first requestVideoFrameCallback after
 *     'playing' that shows a playing, not seeking, picture (measured in the page by its own
 *     hooks; the renderer's ttffMs is reported beside it).
 * (b) The baseline users pick today: a plain page with mpegts.js (its defaults, plus isLive and
 *     liveBufferLatencyChasing) playing the origin's HTTP-FLV (/live/demo.flv, which starts at
 *     the latest keyframe from the GOP cache). From the call that creates the player and plays
 *     to the first rendered frame, the same way.
 *
 * Latency behind live = now − origin wall-clock time of the frame shown (SYSTEM.md), measured
 * the same way for both: the page's fetch is tapped to read the first audio/video timestamps of
 * the FLV stream it plays (mpegts.js maps the smaller one to currentTime 0), so the frame shown
 * has FLV timestamp base + mediaTime·1000, and the origin's signed manifests (polled all along)
 * give its origin time: originTime + ts − startTs of the segment holding it. One machine, one
 * clock. The renderer's own figure (state().latencyS, from the core's timeline and its clock
 * offset estimate) is reported beside it as renderer_latency_*.
 *
 * (c) Default mode (normal, P2P on), bench/zap-runs.ts: a cold click (normal_ttff), a click after
 *     a 500 ms hover that pre-joins the channel (prejoined_ttff), and Page Down zaps while a
 *     channel plays (zap_ms; the renderer's own figure beside it), through three live channels
 *     (the demo and the demo clip pushed by ffmpeg twice); against the baseline page switching
 *     mpegts.js to the next plain HTTP-FLV URL (baseline_zap_ms). Ratios to the baseline are in
 *     the summary.
 *
 * One JSON line per run, then the summary line (also in bench/results/startup.json).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import {
  ensureRendererBuilt,
  installFlvTap,
  LOW_LATENCY_SETTINGS,
  launchChromium,
  ManifestHistory,
  MPEGTS_UMD,
  openViewer,
  type PlayerState,
  ROOT,
  startWeb,
} from '../test/support/browser';
import { until } from '../test/support/media';
import { runSwarmcast } from '../test/support/processes';
import { localServerArgs } from './procs';
import { median, percentile, printLine, round, writeSummary } from './report';
import {
  BASELINE_ZAP_SCRIPT,
  pushLoopedDemo,
  runBaselineZaps,
  runNormalOnce,
  ZAPS_PER_RUN,
} from './zap-runs';

const CHANNEL = 'demo';
/** Channels to zap through: the demo, and the demo clip pushed by ffmpeg under two more names. */
const ZAP_CHANNELS = [CHANNEL, 'zap-b', 'zap-c'];
const AFTER_S = 10;
const FIRST_FRAME_TIMEOUT_MS = 20_000;

/**
 * Page-side measurement (a string: tsx would wrap named functions in a __name() helper the page
 * lacks). t0 is the click on channel-<CHANNEL> (capture phase, before React sees it) or, in the
 * baseline page, set by the page itself; the first frame is the first video frame callback
 * after 'playing' with the video playing and not seeking. Then a snapshot AFTER_S later.
 */
const MEASURE_SCRIPT = `(() => {
  const rec = { t0: null, firstFrameAt: null, firstFrameWall: null, firstFrameMediaTime: null,
    firstFrameState: null, later: null, waiting: 0, armed: false };
  window.__startup = rec;
  const hookState = () => (window.__swarmcastPlayer ? window.__swarmcastPlayer.state() : null);
  // The element measured (the page may hold others: the next and previous channels in standby).
  let watched = null;
  window.addEventListener('click', (e) => {
    const el = e.target && e.target.closest ? e.target.closest('[data-testid="channel-${CHANNEL}"]') : null;
    if (el && rec.t0 === null) rec.t0 = performance.now();
  }, true);
  document.addEventListener('waiting', (e) => {
    if (rec.firstFrameAt !== null && e.target === watched && !e.target.seeking) rec.waiting++;
  }, true);
  document.addEventListener('playing', (e) => {
    const v = e.target;
    if (!(v instanceof HTMLVideoElement) || rec.armed || rec.t0 === null) return;
    rec.armed = true;
    watched = v;
    function onFrame(_now, meta) {
      if (rec.firstFrameAt !== null) return;
      if (v.paused || v.seeking) { v.requestVideoFrameCallback(onFrame); return; }
      rec.firstFrameAt = performance.now();
      rec.firstFrameWall = Date.now();
      rec.firstFrameMediaTime = meta.mediaTime;
      // After the renderer's own frame callback of this frame has run.
      setTimeout(() => { rec.firstFrameState = hookState(); }, 0);
      setTimeout(() => {
        const marks = {};
        for (const m of performance.getEntriesByType('mark')) {
          if (m.name.startsWith('swarmcast:')) marks[m.name.slice(10)] = Math.round((m.startTime - rec.t0) * 10) / 10;
        }
        rec.later = { wall: Date.now(), currentTime: v.currentTime, state: hookState(), waiting: rec.waiting, marks };
      }, ${AFTER_S * 1000});
    }
    v.requestVideoFrameCallback(onFrame);
  }, true);
})();`;

/** The baseline page: mpegts.js from node_modules, started by window.startBaseline(url). */
const BASELINE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>mpegts.js baseline</title>
<style>body{margin:0;background:#000}video{width:854px;height:480px}</style></head>
<body><video id="v" muted playsinline></video>
<script src="/mpegts.js"></script>
<script>
window.startBaseline = (url) => {
  const v = document.getElementById('v');
  if (window.__startup) window.__startup.t0 = performance.now();
  // mpegts.js defaults (stash buffer on, lazy load on, …) plus what a live viewer turns on.
  const player = mpegts.createPlayer({ type: 'flv', isLive: true, url }, { liveBufferLatencyChasing: true });
  player.attachMediaElement(v);
  player.load();
  const p = player.play();
  if (p && p.catch) p.catch(() => {});
  window.__baselinePlayer = player;
};
${BASELINE_ZAP_SCRIPT}
</script></body></html>`;

interface PageRecord {
  t0: number | null;
  firstFrameAt: number | null;
  firstFrameWall: number | null;
  firstFrameMediaTime: number | null;
  firstFrameState: PlayerState | null;
  later: {
    wall: number;
    currentTime: number;
    state: PlayerState | null;
    waiting: number;
    /** The renderer's start-up marks (swarmcast:open|load|first-data|jump|playing|first-frame), ms after t0. */
    marks: Record<string, number>;
  } | null;
  waiting: number;
}

/** What the measuring script and the baseline page put on the window (no DOM types in the node tsconfig). */
interface MeasureGlobals {
  __startup?: PageRecord;
  startBaseline?: (url: string) => void;
}

interface RunResult {
  ttffMs: number;
  latencyFirstS: number | null;
  latency10S: number | null;
  waiting: number;
  rendererTtffMs?: number | null;
  rendererLatencyFirstS?: number | null;
  rendererLatency10S?: number | null;
  stalls?: number;
  marks?: Record<string, number>;
}

function pageRecord(page: Page): Promise<PageRecord> {
  return page.evaluate('window.__startup') as Promise<PageRecord>;
}

/** FLV timestamp at currentTime 0 of the newest tapped stream whose URL holds `part`. */
async function tappedBase(page: Page, part: string): Promise<number | null> {
  const taps = (await page.evaluate('window.__flvTap || []')) as Array<{
    url: string;
    firstAudioTs: number | null;
    firstVideoTs: number | null;
  }>;
  const t = taps.filter((x) => x.url.includes(part)).pop();
  if (!t) return null;
  const ts = [t.firstAudioTs, t.firstVideoTs].filter((x): x is number => x !== null);
  return ts.length ? Math.min(...ts) : null;
}

/** Waits for the first frame and the snapshot AFTER_S later; returns the page's record. */
async function waitForRecord(page: Page): Promise<PageRecord> {
  // Functions, not strings: the renderer's CSP forbids eval, which string predicates need.
  await page.waitForFunction(
    () => ((globalThis as MeasureGlobals).__startup?.firstFrameAt ?? null) !== null,
    undefined,
    {
      timeout: FIRST_FRAME_TIMEOUT_MS,
      polling: 20,
    },
  );
  await page.waitForFunction(
    () => ((globalThis as MeasureGlobals).__startup?.later ?? null) !== null,
    undefined,
    {
      timeout: AFTER_S * 1000 + 5_000,
      polling: 100,
    },
  );
  return pageRecord(page);
}

function latencyS(
  history: ManifestHistory,
  base: number | null,
  mediaTimeS: number,
  wall: number,
): number | null {
  if (base === null) return null;
  const origin = history.originTimeOf(base + mediaTimeS * 1000);
  return origin === null ? null : (wall - origin) / 1000;
}

async function runSwarmcastOnce(serverUrl: string, history: ManifestHistory): Promise<RunResult> {
  const web = await startWeb(serverUrl, LOW_LATENCY_SETTINGS);
  const browser = await launchChromium();
  try {
    await installFlvTap(browser.context);
    await browser.context.addInitScript({ content: MEASURE_SCRIPT });
    const page = await openViewer(browser.context, web.url, CHANNEL);
    await page.getByTestId(`channel-${CHANNEL}`).click();
    const rec = await waitForRecord(page);
    await history.poll();
    // The played session's stream (the standbys' streams are tapped too, and newer).
    const sessionId = rec.firstFrameState?.sessionId ?? rec.later?.state?.sessionId ?? null;
    const base = await tappedBase(page, sessionId ? `/stream/${sessionId}.flv` : '/stream/');
    const later = rec.later!;
    return {
      ttffMs: rec.firstFrameAt! - rec.t0!,
      latencyFirstS: latencyS(history, base, rec.firstFrameMediaTime!, rec.firstFrameWall!),
      latency10S: latencyS(history, base, later.currentTime, later.wall),
      waiting: later.waiting,
      rendererTtffMs: rec.firstFrameState?.ttffMs ?? later.state?.ttffMs ?? null,
      rendererLatencyFirstS: rec.firstFrameState?.latencyS ?? null,
      rendererLatency10S: later.state?.latencyS ?? null,
      stalls: later.state?.stalls ?? 0,
      marks: later.marks,
    };
  } finally {
    await browser.close();
    await web.stop();
  }
}

async function runBaselineOnce(
  pageUrl: string,
  flvUrl: string,
  history: ManifestHistory,
): Promise<RunResult> {
  const browser = await launchChromium();
  try {
    await installFlvTap(browser.context);
    await browser.context.addInitScript({ content: MEASURE_SCRIPT });
    const page = await browser.context.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => typeof (globalThis as MeasureGlobals).startBaseline === 'function');
    await page.evaluate(`window.startBaseline(${JSON.stringify(flvUrl)})`);
    const rec = await waitForRecord(page);
    await history.poll();
    const base = await tappedBase(page, '/live/');
    const later = rec.later!;
    return {
      ttffMs: rec.firstFrameAt! - rec.t0!,
      latencyFirstS: latencyS(history, base, rec.firstFrameMediaTime!, rec.firstFrameWall!),
      latency10S: latencyS(history, base, later.currentTime, later.wall),
      waiting: later.waiting,
    };
  } finally {
    await browser.close();
  }
}

async function startBaselineServer(): Promise<{ server: Server; url: string }> {
  const mpegts = await readFile(MPEGTS_UMD);
  const server = createServer((req, res) => {
    if (req.url === '/mpegts.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      res.end(mpegts);
    } else if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(BASELINE_HTML);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { server, url: `http://127.0.0.1:${addr.port}/` };
}

function stats(values: Array<number | null | undefined>): { median: number | null; p90: number | null } {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? { median: median(v), p90: percentile(v, 90) } : { median: null, p90: null };
}

/** Up to three tries; a failed try is reported on stderr (stdout stays one JSON line per run). */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 3) throw err;
      process.stderr.write(`bench:startup: ${what} failed (try ${i}), retrying: ${String(err)}\n`);
    }
  }
}

const r = (x: number | null | undefined, d = 3) => (typeof x === 'number' ? round(x, d) : null);
const ratio = (a: number | null, b: number | null) =>
  a !== null && b !== null && b > 0 ? round(a / b, 2) : null;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:startup [-- --runs N]\n');
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a positive integer, got ${values.runs}`);

  await ensureRendererBuilt();
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-bench-origin-'));
  const origin = runSwarmcast(localServerArgs(dataDir));
  const baseline = await startBaselineServer();
  let history: ManifestHistory | null = null;
  const pushes: Array<{ stop(): void }> = [];
  try {
    await until(() => origin.lines.some((l) => l.event === 'ready'), 30_000, 'swarmcast server ready');
    const serverUrl = String(origin.lines.find((l) => l.event === 'ready')!.http);
    history = new ManifestHistory(`${serverUrl}/live/${CHANNEL}/manifest.json`);
    await until(
      async () => {
        await history!.poll().catch(() => undefined);
        return history!.originTimeOf(Number.MAX_SAFE_INTEGER) !== null;
      },
      15_000,
      'the demo channel on the air',
    );
    history.start(500);
    for (const id of ZAP_CHANNELS.slice(1)) pushes.push(pushLoopedDemo(serverUrl, id));
    // Let the demo channel run a few GOPs, so the baseline's GOP cache is what it is in steady state.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const results: Array<{ swarmcast: RunResult; baseline: RunResult }> = [];
    const normal: Array<{
      cold: number;
      prejoined: number;
      zaps: number[];
      rendererZaps: number[];
      baselineZaps: number[];
    }> = [];
    const flvUrls = ZAP_CHANNELS.map((id) => `${serverUrl}/live/${id}.flv`);
    await until(
      async () => {
        const res = await fetch(`${serverUrl}/api/channels`).catch(() => null);
        const list = res?.ok
          ? ((await res.json()) as { channels: Array<{ id: string; live: boolean }> })
          : null;
        return ZAP_CHANNELS.every((id) => list?.channels.some((c) => c.id === id && c.live));
      },
      20_000,
      'the zap channels on the air',
    );
    for (let run = 1; run <= runs; run++) {
      const h = history;
      const swarmcast = await attempt(`run ${run} swarmcast`, () => runSwarmcastOnce(serverUrl, h));
      const base = await attempt(`run ${run} baseline`, () =>
        runBaselineOnce(baseline.url, `${serverUrl}/live/${CHANNEL}.flv`, h),
      );
      const n = await attempt(`run ${run} normal mode`, () => runNormalOnce(serverUrl, ZAP_CHANNELS));
      const bz = await attempt(`run ${run} baseline zaps`, () => runBaselineZaps(baseline.url, flvUrls));
      normal.push({
        cold: n.coldTtffMs,
        prejoined: n.prejoinedTtffMs,
        zaps: n.zapMs,
        rendererZaps: n.rendererZapMs,
        baselineZaps: bz,
      });
      printLine({
        run,
        normal_ttff_ms: r(n.coldTtffMs, 1),
        prejoined_ttff_ms: r(n.prejoinedTtffMs, 1),
        zap_ms: n.zapMs.map((x) => r(x, 1)),
        renderer_zap_ms: n.rendererZapMs.map((x) => r(x, 1)),
        baseline_zap_ms: bz.map((x) => r(x, 1)),
      });
      results.push({ swarmcast, baseline: base });
      printLine({
        run,
        ttff_ms: r(swarmcast.ttffMs, 1),
        latency_first_frame_s: r(swarmcast.latencyFirstS),
        latency_10s_s: r(swarmcast.latency10S),
        renderer_ttff_ms: r(swarmcast.rendererTtffMs, 1),
        renderer_latency_first_frame_s: r(swarmcast.rendererLatencyFirstS),
        renderer_latency_10s_s: r(swarmcast.rendererLatency10S),
        stalls: swarmcast.stalls,
        marks_ms: swarmcast.marks,
        baseline_ttff_ms: r(base.ttffMs, 1),
        baseline_latency_first_frame_s: r(base.latencyFirstS),
        baseline_latency_10s_s: r(base.latency10S),
        baseline_waiting: base.waiting,
      });
    }

    const sw = (f: (x: RunResult) => number | null | undefined) => stats(results.map((x) => f(x.swarmcast)));
    const bl = (f: (x: RunResult) => number | null | undefined) => stats(results.map((x) => f(x.baseline)));
    const ttff = sw((x) => x.ttffMs);
    const bTtff = bl((x) => x.ttffMs);
    await writeSummary('startup', {
      runs,
      mode: 'low',
      p2p: false,
      cold: true,
      latency_method: 'frame FLV ts (tapped stream base + mediaTime) -> origin manifest originTime',
      ttff_ms_median: r(ttff.median, 1),
      ttff_ms_p90: r(ttff.p90, 1),
      baseline_ttff_ms_median: r(bTtff.median, 1),
      baseline_ttff_ms_p90: r(bTtff.p90, 1),
      latency_first_frame_s_median: r(sw((x) => x.latencyFirstS).median),
      baseline_latency_first_frame_s_median: r(bl((x) => x.latencyFirstS).median),
      latency_10s_s_median: r(sw((x) => x.latency10S).median),
      baseline_latency_10s_s_median: r(bl((x) => x.latency10S).median),
      latency_10s_s_p90: r(sw((x) => x.latency10S).p90),
      baseline_latency_10s_s_p90: r(bl((x) => x.latency10S).p90),
      renderer_ttff_ms_median: r(sw((x) => x.rendererTtffMs).median, 1),
      renderer_latency_first_frame_s_median: r(sw((x) => x.rendererLatencyFirstS).median),
      renderer_latency_10s_s_median: r(sw((x) => x.rendererLatency10S).median),
      stalls_total: results.reduce((n, x) => n + (x.swarmcast.stalls ?? 0), 0),
      normal_mode: 'normal (P2P on), default settings',
      normal_ttff_ms_median: r(stats(normal.map((x) => x.cold)).median, 1),
      prejoined_ttff_ms_median: r(stats(normal.map((x) => x.prejoined)).median, 1),
      zaps_per_run: ZAPS_PER_RUN,
      zap_ms_median: r(stats(normal.flatMap((x) => x.zaps)).median, 1),
      zap_ms_p90: r(stats(normal.flatMap((x) => x.zaps)).p90, 1),
      renderer_zap_ms_median: r(stats(normal.flatMap((x) => x.rendererZaps)).median, 1),
      baseline_zap_ms_median: r(stats(normal.flatMap((x) => x.baselineZaps)).median, 1),
      baseline_zap_ms_p90: r(stats(normal.flatMap((x) => x.baselineZaps)).p90, 1),
      prejoined_vs_baseline_ttff: ratio(stats(normal.map((x) => x.prejoined)).median, bTtff.median),
      zap_vs_baseline_zap: ratio(
        stats(normal.flatMap((x) => x.zaps)).median,
        stats(normal.flatMap((x) => x.baselineZaps)).median,
      ),
      normal_vs_baseline_ttff: ratio(stats(normal.map((x) => x.cold)).median, bTtff.median),
      baseline_waiting_total: results.reduce((n, x) => n + x.baseline.waiting, 0),
      mpegts_version: JSON.parse(await readFile(join(ROOT, 'node_modules/mpegts.js/package.json'), 'utf8'))
        .version,
    });
  } finally {
    for (const p of pushes) p.stop();
    history?.stop();
    baseline.server.close();
    baseline.server.closeAllConnections();
    origin.child.kill('SIGTERM');
    await Promise.race([origin.exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    if (origin.child.exitCode === null && origin.child.signalCode === null) origin.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:startup: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
