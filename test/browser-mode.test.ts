/**
 * The renderer in headless Chromium on the browser mode: an origin in-process with the demo
 * channel, `swarmcast web --server <origin>` with a fresh data dir (latency mode 'low' and P2P
 * off: the CDN path), and Debian's chromium through playwright-core.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { median } from '../bench/report';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import {
  type Browser,
  ensureRendererBuilt,
  installFlvTap,
  LOW_LATENCY_SETTINGS,
  launchChromium,
  ManifestHistory,
  openViewer,
  type PlayerState,
  playerState,
  pngPicture,
  sample,
  startWeb,
  videoPicture,
  type WebCore,
  waitForState,
} from './support/browser';

const OFFLINE_CHANNEL = 'nobody-streams-here';
const LATENCY_WINDOW_MS = 30_000;
const LATENCY_PERIOD_MS = 500;

let originDir = '';
let origin: RunningServer | null = null;
let web: WebCore | null = null;
let browser: Browser | null = null;
let page: Page;
let history: ManifestHistory;
/** Gateway FLV streams the page opened and that have not finished or failed yet. */
const openStreams = new Set<string>();

beforeAll(async () => {
  await ensureRendererBuilt();
  originDir = await mkdtemp(join(tmpdir(), 'swarmcast-origin-'));
  origin = await startServer({
    httpPort: 0,
    rtmpPort: null,
    stunPort: 0,
    dataDir: originDir,
    demo: true,
    log: silentLogger(),
  });
  history = new ManifestHistory(`${origin.httpUrl}/live/demo/manifest.json`);
  history.start(1000);
  web = await startWeb(origin.httpUrl, LOW_LATENCY_SETTINGS);
  browser = await launchChromium();
  await installFlvTap(browser.context);
  page = await openViewer(browser.context, web.url);
  page.on('request', (r) => {
    if (/\/stream\/[^/]+\.flv/.test(r.url())) openStreams.add(r.url());
  });
  page.on('requestfinished', (r) => openStreams.delete(r.url()));
  page.on('requestfailed', (r) => openStreams.delete(r.url()));
  console.log('browser-mode: latency mode "low", P2P off (the CDN path)');
}, 120_000);

afterAll(async () => {
  history?.stop();
  await browser?.close();
  await web?.stop();
  await origin?.close();
  if (originDir) await rm(originDir, { recursive: true, force: true });
}, 30_000);

async function playDemo(): Promise<PlayerState> {
  await page.getByTestId('channel-demo').click();
  return waitForState(page, (s) => s.phase === 'playing' && s.channel === 'demo', 15_000, 'demo playing');
}

async function restartDemo(): Promise<PlayerState> {
  if ((await playerState(page)).phase !== 'idle') {
    await page.getByTestId('stop').click();
    await waitForState(page, (s) => s.phase === 'idle', 5_000, 'idle after stop');
  }
  return playDemo();
}

async function playOffline(): Promise<void> {
  await page.getByTestId('channel-input').fill(OFFLINE_CHANNEL);
  await page.getByTestId('channel-play').click();
}

describe('renderer in headless Chromium (browser mode)', () => {
  it('plays the demo channel: playing, currentTime and decoded frames advance, the picture is not black', async () => {
    const first = await playDemo();
    expect(first.ttffMs).not.toBeNull();
    expect(first.players).toBe(1);
    // A first frame is no proof of playback: watch it move for a few seconds.
    const a = await playerState(page);
    await sleep(3_000);
    const b = await playerState(page);
    console.log(
      `demo: ttff ${first.ttffMs?.toFixed(0)} ms; in 3 s currentTime +${(b.currentTime - a.currentTime).toFixed(2)} s, ` +
        `frames +${b.decodedFrames - a.decodedFrames}`,
    );
    expect(b.phase).toBe('playing');
    expect(b.playing).toBe(true);
    expect(b.currentTime - a.currentTime).toBeGreaterThan(2.4);
    expect(b.decodedFrames - a.decodedFrames).toBeGreaterThan(40);
    expect(b.error).toBeNull();

    // The decoded picture (drawn into a canvas) and what is on screen (a screenshot) are not black.
    const decoded = await videoPicture(page);
    expect(decoded.width).toBeGreaterThan(0);
    expect(decoded.variance).toBeGreaterThan(100);
    const shot = pngPicture(await page.getByTestId('video').screenshot());
    console.log(
      `demo picture: decoded mean ${decoded.mean.toFixed(0)} var ${decoded.variance.toFixed(0)}; ` +
        `screenshot ${shot.width}x${shot.height} mean ${shot.mean.toFixed(0)} var ${shot.variance.toFixed(0)}`,
    );
    expect(shot.variance).toBeGreaterThan(100);
    expect(shot.mean).toBeGreaterThan(10);
    // Still moving: a frozen last frame would pass the checks above.
    const c = await playerState(page);
    expect(c.currentTime).toBeGreaterThan(b.currentTime);
    // The channel list carries the server's viewer count.
    await expect
      .poll(() => page.getByTestId('channel-viewers-demo').textContent(), { timeout: 10_000 })
      .toMatch(/^\d[\d,.k]* watching/);
  }, 40_000);

  // Real-time in Chromium beside other test files: retried once when a run lost the CPU.
  it('holds latency in its band for 30 s (low-latency mode, P2P off)', {
    retry: 1,
    timeout: 60_000,
  }, async ({ task }) => {
    let s = await playerState(page);
    // The stall counts asserted below are the session's, its start-up included, so a retry
    // (after a stall on a machine busy with the other test files) must measure a new session.
    if ((task.result?.retryCount ?? 0) > 0) s = await restartDemo();
    else if (s.phase !== 'playing' || s.channel !== 'demo') s = await playDemo();
    const stallsBefore = s.stalls;
    // SYSTEM.md's latency (now − origin wall-clock time of the frame shown), measured without
    // the core: the tapped stream's time base + currentTime, mapped by the origin's manifests.
    const latencies: number[] = [];
    // The renderer's own figure (state().latencyS: the core's timeline and clock offset).
    const reported: number[] = [];
    const end = Date.now() + LATENCY_WINDOW_MS;
    let last = s;
    while (Date.now() < end) {
      const x = await sample(page);
      last = x.state;
      expect(x.state.phase).toBe('playing');
      expect(x.state.latencyS).not.toBeNull();
      reported.push(x.state.latencyS!);
      const origin = x.baseTs === null ? null : history.originTimeOf(x.baseTs + x.state.currentTime * 1000);
      expect(origin).not.toBeNull();
      latencies.push((x.now - origin!) / 1000);
      await sleep(LATENCY_PERIOD_MS);
    }
    const med = median(latencies);
    const max = Math.max(...latencies);
    const min = Math.min(...latencies);
    const offset = median(reported.map((r, i) => r - latencies[i]!));
    console.log(
      `latency over 30 s (${latencies.length} samples, low-latency mode, P2P off): median ${med.toFixed(3)} s, ` +
        `min ${min.toFixed(3)} s, max ${max.toFixed(3)} s, stalls ${last.stalls - stallsBefore}; ` +
        `state().latencyS median ${median(reported).toFixed(3)} s, max ${Math.max(...reported).toFixed(3)} s ` +
        `(${offset >= 0 ? '+' : ''}${offset.toFixed(3)} s from the origin's clock)`,
    );
    if (Math.abs(offset) > 0.15) {
      console.warn(
        `state().latencyS is ${offset.toFixed(3)} s off the latency measured from the origin's manifests: the ` +
          `core's clock offset comes from the COM's serverTime over the channel-info round trip (main/core/manifest/com-client.ts)`,
      );
    }
    expect(latencies.length).toBeGreaterThanOrEqual(50);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(2.0);
    expect(med).toBeLessThanOrEqual(1.0);
    // The renderer's own figure is never above the band either (it errs low, see above).
    expect(Math.max(...reported)).toBeLessThanOrEqual(2.0);
    expect(median(reported)).toBeLessThanOrEqual(1.0);
    expect(last.stalls - stallsBefore).toBe(0);
    expect(last.stalls).toBe(0);
    expect(last.stallSeconds).toBe(0);
    expect(last.playing).toBe(true);
  });

  it('shows a clear message for an offline channel, not a black box', async () => {
    await playOffline();
    const status = page.getByTestId('status-message');
    await expect.poll(() => status.getAttribute('data-phase'), { timeout: 15_000 }).toBe('offline');
    const text = ((await status.textContent()) ?? '').trim();
    console.log(`offline message: ${JSON.stringify(text)}`);
    expect(text).toMatch(/offline|not on the air/i);
    expect(text).toContain(OFFLINE_CHANNEL);
    expect(await status.isVisible()).toBe(true);
    const s = await playerState(page);
    expect(s.phase).toBe('offline');
    expect(s.error).toBeTruthy();
    expect(s.players).toBe(0);
    // What the user sees in the player area is the message, not a uniform dark box.
    const area = page.locator('.player');
    const shot = pngPicture(await area.screenshot());
    expect(shot.variance).toBeGreaterThan(20);
  }, 30_000);

  it('leaks no player over stop/start and channel switching', async () => {
    // Sample the number of live mpegts.js players every 5 ms in the page, between our polls too.
    await page.evaluate(`(() => {
      window.__maxPlayers = 0;
      window.__playerSampler = setInterval(() => {
        const n = window.__swarmcastPlayer.state().players;
        if (n > window.__maxPlayers) window.__maxPlayers = n;
      }, 5);
    })()`);
    const check = async () => {
      const s = await playerState(page);
      expect(s.players).toBeLessThanOrEqual(1);
      return s;
    };
    for (let i = 0; i < 10; i++) {
      await playDemo();
      expect((await check()).players).toBe(1);
      await playOffline();
      await waitForState(page, (s) => s.phase === 'offline', 15_000, 'offline');
      expect((await check()).players).toBe(0);
      if (i % 3 === 2) {
        // Quick switches without waiting for anything in between.
        await page.getByTestId('channel-demo').click();
        await playOffline();
        await page.getByTestId('channel-demo').click();
        await waitForState(page, (s) => s.phase === 'playing' && s.channel === 'demo', 15_000, 'demo');
        await check();
      }
      if (i % 3 === 1) {
        // Stop while the player is still starting.
        await page.getByTestId('channel-demo').click();
        await page.getByTestId('stop').click();
        const s = await waitForState(page, (x) => x.phase === 'idle', 5_000, 'idle after an early stop');
        expect(s.players).toBe(0);
      }
      // Stop is disabled with nothing to stop (after the early stop above).
      if (i % 2 === 1 && (await playerState(page)).phase !== 'idle') {
        await page.getByTestId('stop').click();
        const s = await waitForState(page, (x) => x.phase === 'idle', 5_000, 'idle after stop');
        expect(s.players).toBe(0);
      }
    }
    await page.getByTestId('channel-demo').click();
    await waitForState(page, (s) => s.phase === 'playing', 15_000, 'demo');
    await page.getByTestId('stop').click();
    const s = await waitForState(page, (x) => x.phase === 'idle', 5_000, 'idle after stop');
    expect(s.players).toBe(0);
    expect(s.sessionId).toBeNull();
    const maxPlayers = await page.evaluate(
      '(() => { clearInterval(window.__playerSampler); return window.__maxPlayers; })()',
    );
    expect(maxPlayers).toBe(1);
    // No stream request left open in the browser after stop.
    await expect.poll(() => openStreams.size, { timeout: 5_000 }).toBe(0);
    await sleep(1_000);
    expect((await playerState(page)).players).toBe(0);
  }, 90_000);
});
