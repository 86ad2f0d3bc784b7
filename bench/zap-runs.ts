/**
 * bench:startup's default-mode (normal) runs: a cold click, a click after a 500 ms hover
 * (pre-join), and zaps (Page Down while a channel plays) in Swarmcast browser mode; and the
 * baseline zap: mpegts.js destroying its player and creating one on the next channel's plain
 * HTTP-FLV URL. Every time is from the user's action to the first rendered frame of the new
 * channel, measured in the page: the first requestVideoFrameCallback after 'playing' with the
 * video playing and not seeking — or, when the zap shows another <video> (a standby, which may
 * already be playing hidden), the first frame that element presents once shown.
 */
import { spawn } from 'node:child_process';
import type { Page } from 'playwright-core';
import { DEFAULT_SETTINGS } from '../common/ipc-contract';
import { launchChromium, openViewer, playerState, startWeb } from '../test/support/browser';
import { DEMO_FLV } from '../test/support/helpers';

/** Zaps per run (each after a couple of seconds of watching). */
export const ZAPS_PER_RUN = 3;
const WATCH_BEFORE_ZAP_MS = 2000;
const FRAME_TIMEOUT_MS = 20_000;

/**
 * Page side: window.__zap.arm(kind) notes t0 now (or at the next click / Page Down) and
 * resolves the time to the first frame shown after the next 'playing' event.
 */
const ZAP_SCRIPT = `(() => {
  const z = { t0: null, at: null };
  window.__zap = z;
  const watch = () => {
    const onPlaying = (e) => {
      const v = e.target;
      if (!(v instanceof HTMLVideoElement) || z.t0 === null || z.at !== null) return;
      if (v.closest && v.closest('.preview-tile')) return;
      const onFrame = () => {
        if (z.at !== null) return;
        if (v.paused || v.seeking) { v.requestVideoFrameCallback(onFrame); return; }
        z.at = performance.now();
      };
      v.requestVideoFrameCallback(onFrame);
    };
    document.addEventListener('playing', onPlaying, true);
    // A switch on the same player shows the next channel with a seek inside the buffer.
    document.addEventListener('seeked', onPlaying, true);
  };
  watch();
  // A zap to a channel waiting in standby shows another <video>, which may be playing already
  // (hidden, the next channel's): no 'playing' follows; its first frame is the first one it
  // presents once shown, playing and not seeking.
  const shown = () => document.querySelector('video[data-testid="video"]');
  const watchSwap = (before) => requestAnimationFrame(() => {
    const v = shown();
    if (!v || v === before || z.at !== null) return;
    const onFrame = () => {
      if (z.at !== null) return;
      if (v.paused || v.seeking || v !== shown()) { v.requestVideoFrameCallback(onFrame); return; }
      z.at = performance.now();
    };
    v.requestVideoFrameCallback(onFrame);
  });
  window.addEventListener('keydown', (e) => {
    if (e.key === 'PageDown' && z.armed) { z.t0 = performance.now(); z.armed = false; watchSwap(shown()); }
  }, true);
  // A click while nothing is on screen may find the channel's player already started, hidden
  // (hovered): no 'playing' follows; its first frame is the first one painted without the idle
  // screen over it. (The benchmark clicks only with nothing playing.)
  const alreadyPlaying = () => {
    const v = document.querySelector('video[data-testid="video"]');
    if (!v || v.paused || v.readyState < 2) return;
    const onFrame = () => {
      if (z.at !== null) return;
      if (v.paused || v.seeking || document.querySelector('[data-testid="status-message"]')) {
        v.requestVideoFrameCallback(onFrame);
        return;
      }
      z.at = performance.now();
    };
    v.requestVideoFrameCallback(onFrame);
  };
  window.addEventListener('click', (e) => {
    const el = e.target && e.target.closest ? e.target.closest('[data-testid^="channel-"]') : null;
    if (el && z.armed) { z.t0 = performance.now(); z.armed = false; alreadyPlaying(); }
  }, true);
  z.arm = () => { z.t0 = null; z.at = null; z.armed = true; };
  z.start = () => { z.t0 = performance.now(); z.at = null; z.armed = false; };
})();`;

interface ZapGlobals {
  __zap?: { t0: number | null; at: number | null; arm(): void; start(): void };
  startBaselineZap?: (url: string) => void;
}

async function arm(page: Page): Promise<void> {
  await page.evaluate(() => (globalThis as ZapGlobals).__zap!.arm());
}

async function measured(page: Page): Promise<number> {
  await page.waitForFunction(() => ((globalThis as ZapGlobals).__zap?.at ?? null) !== null, undefined, {
    timeout: FRAME_TIMEOUT_MS,
    polling: 20,
  });
  return (await page.evaluate(() => {
    const z = (globalThis as ZapGlobals).__zap!;
    return z.at! - z.t0!;
  })) as number;
}

export interface NormalRun {
  coldTtffMs: number;
  prejoinedTtffMs: number;
  zapMs: number[];
  /** The renderer's own time to first frame for each zap (state().ttffMs), beside the page's. */
  rendererZapMs: number[];
}

const NORMAL = { ...DEFAULT_SETTINGS };

/** One cold click (fresh core and browser), then, in another fresh pair, hover + click and zaps. */
export async function runNormalOnce(serverUrl: string, channels: readonly string[]): Promise<NormalRun> {
  const coldTtffMs = await oneBrowser(serverUrl, async (page) => {
    await arm(page);
    await page.getByTestId(`channel-${channels[0]}`).click();
    return measured(page);
  });
  let zapMs: number[] = [];
  const rendererZapMs: number[] = [];
  const prejoinedTtffMs = await oneBrowser(serverUrl, async (page) => {
    const row = page.getByTestId(`channel-${channels[0]}`);
    await row.hover();
    await new Promise((r) => setTimeout(r, 500));
    await arm(page);
    await row.click();
    const ttff = await measured(page);
    // Off the list, so no preview tile competes with the player while zapping.
    await page.mouse.move(1000, 600);
    zapMs = [];
    for (let i = 0; i < ZAPS_PER_RUN; i++) {
      await new Promise((r) => setTimeout(r, WATCH_BEFORE_ZAP_MS));
      await arm(page);
      await page.keyboard.press('PageDown');
      zapMs.push(await measured(page));
      const state = (await playerState(page)) as { ttffMs: number | null; phase: string };
      if (state.phase === 'playing' && state.ttffMs !== null) rendererZapMs.push(state.ttffMs);
    }
    return ttff;
  });
  return { coldTtffMs, prejoinedTtffMs, zapMs, rendererZapMs };
}

async function oneBrowser(serverUrl: string, fn: (page: Page) => Promise<number>): Promise<number> {
  const web = await startWeb(serverUrl, NORMAL);
  const browser = await launchChromium();
  try {
    await browser.context.addInitScript({ content: ZAP_SCRIPT });
    const page = await openViewer(browser.context, web.url, 'demo');
    return await fn(page);
  } finally {
    await browser.close();
    await web.stop();
  }
}

/** The baseline page's zap: destroy the mpegts.js player, then start one on the next URL as at first. */
export const BASELINE_ZAP_SCRIPT = `
window.startBaselineZap = (url) => {
  const old = window.__baselinePlayer;
  if (old) { old.pause(); old.unload(); old.detachMediaElement(); old.destroy(); }
  window.startBaseline(url);
};`;

/** Baseline zaps: play the first channel, then ZAPS_PER_RUN times switch to the next one. */
export async function runBaselineZaps(pageUrl: string, flvUrls: readonly string[]): Promise<number[]> {
  const browser = await launchChromium();
  try {
    await browser.context.addInitScript({ content: ZAP_SCRIPT });
    const page = await browser.context.newPage();
    await page.goto(pageUrl);
    await page.waitForFunction(() => typeof (globalThis as ZapGlobals).startBaselineZap === 'function');
    await page.evaluate((u) => {
      const g = globalThis as ZapGlobals;
      g.__zap!.start();
      g.startBaselineZap!(u);
    }, flvUrls[0]!);
    await measured(page);
    const out: number[] = [];
    for (let i = 0; i < ZAPS_PER_RUN; i++) {
      await new Promise((r) => setTimeout(r, WATCH_BEFORE_ZAP_MS));
      const url = flvUrls[(i + 1) % flvUrls.length]!;
      await page.evaluate((u) => {
        const g = globalThis as ZapGlobals;
        g.__zap!.start();
        g.startBaselineZap!(u);
      }, url);
      out.push(await measured(page));
    }
    return out;
  } finally {
    await browser.close();
  }
}

/** A real broadcaster per extra channel: ffmpeg looping the demo clip into the origin's HTTP ingest. */
export function pushLoopedDemo(serverUrl: string, channel: string): { stop(): void } {
  const child = spawn(
    'ffmpeg',
    [
      '-nostdin',
      '-loglevel',
      'error',
      '-re',
      '-stream_loop',
      '-1',
      '-i',
      DEMO_FLV,
      '-c',
      'copy',
      '-f',
      'flv',
    ].concat(`${serverUrl}/ingest/${channel}`),
    { stdio: 'ignore' },
  );
  return { stop: () => child.kill('SIGTERM') };
}
