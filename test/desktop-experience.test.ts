/**
 * The desktop experience in real Chromium through browser mode (the app's renderer): going live
 * with a real ffmpeg RTMP push and the per-channel low-latency preview; every keyboard shortcut;
 * the connection badge and messages with the server stopped and restarted; Simplified Chinese
 * from the OS language and from settings with no missing keys; screenshots at 800×600 and
 * 1920×1080 kept in test-artifacts/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../common/ipc-contract';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import {
  type Browser,
  ensureRendererBuilt,
  launchChromium,
  openViewer,
  playerState,
  ROOT,
  startWeb,
  type WebCore,
  waitForState,
} from './support/browser';
import { ffmpegPublishArgs } from './support/helpers';
import { freePort } from './support/redis';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const OWN_CHANNEL = 'mychannel';
/** i18n keys look like "goLive.title": none may reach the screen. */
const RAW_KEY =
  /\b(app|connection|channels|player|failure|shortcuts|stats|settings|validation|goLive)\.[a-zA-Z_]+\b/;

let dataDir = '';
let httpPort = 0;
let server: RunningServer | null = null;
let web: WebCore | null = null;
let browser: Browser | null = null;
let page: Page;
let ffmpeg: ChildProcess | null = null;

function start(): Promise<RunningServer> {
  return startServer({ httpPort, rtmpPort: 0, stunPort: 0, dataDir, demo: true, log: silentLogger() });
}

const text = async (testId: string) => ((await page.getByTestId(testId).textContent()) ?? '').trim();
const attr = (testId: string, name: string) => page.getByTestId(testId).getAttribute(name);
const press = async (key: string) => {
  // Shortcuts are the window's: send them with nothing focused (a focused button takes Space).
  await page.evaluate('document.activeElement?.blur()');
  await page.keyboard.press(key);
};
const video = <T>(fn: string) =>
  page.evaluate(
    `(() => { const v = document.querySelector('video[data-testid="video"]'); return ${fn}; })()`,
  ) as Promise<T>;

async function shot(name: string, width: number, height: number): Promise<void> {
  await page.setViewportSize({ width, height });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}x${height}.png`) });
}

beforeAll(async () => {
  await ensureRendererBuilt();
  await mkdir(ARTIFACTS, { recursive: true });
  dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-desktop-'));
  httpPort = await freePort();
  server = await start();
  // Normal latency mode with sharing on: the Go-live preview must still play low-latency.
  web = await startWeb(server.httpUrl, { ...DEFAULT_SETTINGS });
  browser = await launchChromium({ locale: 'en-US' });
  page = await openViewer(browser.context, web.url);
}, 120_000);

afterAll(async () => {
  ffmpeg?.kill('SIGKILL');
  await browser?.close();
  await web?.stop();
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

describe('desktop experience (browser mode, real Chromium)', () => {
  it('Go live shows the real ingest address, takes an ffmpeg push and previews it at low latency', async () => {
    await page.getByTestId('view-golive').click();
    await page.getByTestId('golive-channel').fill(OWN_CHANNEL);
    // The server's real RTMP address (a random port here), not a guessed :1935.
    await expect.poll(() => text('golive-rtmp'), { timeout: 10_000 }).toBe(server!.rtmpUrl);
    expect(await text('golive-key')).toBe(OWN_CHANNEL);
    expect(await text('golive-key-note')).toMatch(/channel name/);
    expect(await text('golive-ffmpeg')).toContain(`${server!.rtmpUrl}/${OWN_CHANNEL}`);
    expect(await attr('golive-state', 'data-live')).toBe('false');

    // The demo clip, looped: the channel stays live for the rest of the file.
    const args = ffmpegPublishArgs(`${server!.rtmpUrl}/${OWN_CHANNEL}`, 600);
    ffmpeg = spawn('ffmpeg', ['-stream_loop', '-1', ...args], { stdio: 'ignore' });
    await expect.poll(() => attr('golive-state', 'data-live'), { timeout: 20_000 }).toBe('true');

    await page.getByTestId('golive-preview').click();
    const s = await waitForState(
      page,
      (x) => x.phase === 'playing' && x.channel === OWN_CHANNEL,
      20_000,
      'preview',
    );
    // Low latency for this channel only: well under the normal mode's 4 s target.
    await page.waitForTimeout(3000);
    const latency = (await playerState(page)).latencyS;
    console.log(`go-live preview: ttff ${s.ttffMs?.toFixed(0)} ms, latency ${latency?.toFixed(2)} s`);
    expect(latency).not.toBeNull();
    expect(latency!).toBeLessThan(2.5);
    await expect.poll(() => text('golive-viewers'), { timeout: 10_000 }).toMatch(/^\d+$/);
    // The preview files quality reports like any viewer: the room's P2P share appears.
    await expect.poll(() => text('golive-share'), { timeout: 30_000 }).toMatch(/%$/);
    expect(await text('golive-saved')).toMatch(/B$/);
    await shot('golive', 1920, 1080);
    await shot('golive', 800, 600);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId('golive-preview').click();
    await waitForState(page, (x) => x.phase === 'idle', 5_000, 'preview stopped');
    await page.getByTestId('view-watch').click();
  });

  it('every shortcut does what the help says', async () => {
    await page.getByTestId('channel-demo').click();
    await waitForState(page, (x) => x.phase === 'playing', 20_000, 'demo');

    await press('k');
    await expect.poll(() => video<boolean>('v.paused')).toBe(true);
    await press('k');
    await expect.poll(() => video<boolean>('v.paused')).toBe(false);
    await press(' ');
    await expect.poll(() => video<boolean>('v.paused')).toBe(true);
    // Paused: the live badge is no longer red.
    await page.waitForTimeout(1200);
    expect(await attr('live-badge', 'data-live')).toBe('false');
    await press(' ');
    await expect.poll(() => video<boolean>('v.paused')).toBe(false);

    const muted = await video<boolean>('v.muted');
    await press('m');
    await expect.poll(() => video<boolean>('v.muted')).toBe(!muted);
    await press('m');
    await expect.poll(() => video<boolean>('v.muted')).toBe(muted);

    const vol = await video<number>('v.volume');
    await press('ArrowDown');
    await expect.poll(() => video<number>('v.volume')).toBeCloseTo(Math.max(0, vol - 0.05), 2);
    await press('ArrowUp');
    await expect.poll(() => video<number>('v.volume')).toBeCloseTo(vol, 2);

    // ← goes back inside the buffer; the badge shows how far behind; L jumps back to live.
    await page.waitForTimeout(3000);
    const before = await video<number>('v.currentTime');
    await press('ArrowLeft');
    await expect.poll(() => video<number>('v.currentTime')).toBeLessThan(before - 1);
    await expect.poll(() => attr('live-badge', 'data-live'), { timeout: 5_000 }).toBe('false');
    expect(await text('live-badge')).toMatch(/−\d/);
    await press('l');
    await expect.poll(() => attr('live-badge', 'data-live'), { timeout: 8_000 }).toBe('true');
    const behind = await video<number>('v.currentTime');
    await press('ArrowRight');
    expect(await video<number>('v.currentTime')).toBeGreaterThanOrEqual(behind - 0.5);

    await press('s');
    await expect.poll(() => page.getByTestId('stats').isVisible()).toBe(true);
    await press('s');
    await expect.poll(() => page.getByTestId('stats').count()).toBe(0);

    await press('?');
    await expect.poll(() => page.getByTestId('shortcut-help').isVisible()).toBe(true);
    expect(await text('shortcut-help')).toMatch(/Jump to live/);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('shortcut-help').count()).toBe(0);

    await press('f');
    await expect.poll(() => page.evaluate('document.fullscreenElement !== null')).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.evaluate('document.fullscreenElement !== null')).toBe(false);

    // Page Down / Up: the next live channel (the push above is still live) and back.
    await press('PageDown');
    await waitForState(
      page,
      (x) => x.phase === 'playing' && x.channel === OWN_CHANNEL,
      15_000,
      'next channel',
    );
    await press('PageUp');
    await waitForState(
      page,
      (x) => x.phase === 'playing' && x.channel === 'demo',
      15_000,
      'previous channel',
    );

    // A click on the picture pauses, another resumes.
    await page.getByTestId('video').click();
    await expect.poll(() => video<boolean>('v.paused')).toBe(true);
    await page.getByTestId('video').click();
    await expect.poll(() => video<boolean>('v.paused')).toBe(false);

    // After Stop, Play starts the same channel again.
    await page.getByTestId('stop').click();
    await waitForState(page, (x) => x.phase === 'idle', 5_000, 'stopped');
    expect(await page.getByTestId('play-pause').isEnabled()).toBe(true);
    await page.getByTestId('play-pause').click();
    await waitForState(page, (x) => x.phase === 'playing' && x.channel === 'demo', 20_000, 'play again');
  });

  it('remembers volume and mute across launches', async () => {
    await press('m');
    await page.getByTestId('volume').fill('0.4');
    const muted = await video<boolean>('v.muted');
    await page.reload();
    await page.getByTestId('channel-demo').waitFor({ state: 'visible', timeout: 20_000 });
    await page.getByTestId('channel-demo').click();
    await waitForState(page, (x) => x.phase === 'playing', 20_000, 'demo after reload');
    expect(await video<number>('v.volume')).toBeCloseTo(0.4, 2);
    expect(await video<boolean>('v.muted')).toBe(muted);
    await page.getByTestId('volume').fill('1');
    if (await video<boolean>('v.muted')) await press('m');
    await shot('watch', 1920, 1080);
    await press('s');
    await shot('watch-stats', 800, 600);
    await press('s');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('the badge and messages follow the server going away and coming back', async () => {
    await expect.poll(() => attr('connection', 'data-state'), { timeout: 10_000 }).toBe('ok');
    await server!.close();
    server = null;
    await expect.poll(() => attr('connection', 'data-state'), { timeout: 15_000 }).toBe('server-down');
    expect(await text('connection')).toBe('Server unreachable');
    // The channel list says what to do, in plain words; the raw error waits behind "Details".
    await expect.poll(() => page.getByTestId('channels-error').isVisible(), { timeout: 10_000 }).toBe(true);
    const notice = await text('channels-error');
    expect(notice).toMatch(/Cannot reach the Swarmcast server/);
    expect(await page.getByTestId('channels-error').locator('code').isVisible()).toBe(false);
    // A channel opened now fails with words a person understands, and the detail on demand.
    await page.getByTestId('channel-input').fill('demo');
    await page.getByTestId('channel-play').click();
    await expect
      .poll(async () => attr('status-message', 'data-failure'), { timeout: 20_000 })
      .toMatch(/unreachable|offline|error/);
    const what = await text('status-what');
    expect(what).not.toMatch(/ECONNREFUSED|fetch failed/);
    if ((await page.getByTestId('status-details-toggle').count()) > 0) {
      await page.getByTestId('status-details-toggle').click();
      expect((await text('status-detail')).length).toBeGreaterThan(0);
    }
    await shot('server-down', 800, 600);
    await page.setViewportSize({ width: 1280, height: 800 });

    server = await start();
    await expect.poll(() => attr('connection', 'data-state'), { timeout: 15_000 }).toBe('ok');
    await waitForState(page, (x) => x.phase === 'playing' && x.channel === 'demo', 30_000, 'playing again');
  });

  it('speaks Simplified Chinese from the settings, with no key left untranslated', async () => {
    await page.getByTestId('settings-open').click();
    await page.getByTestId('setting-language').selectOption('zh-CN');
    await expect.poll(() => text('view-golive'), { timeout: 5_000 }).toBe('开播');
    expect(await page.evaluate('document.documentElement.lang')).toBe('zh-CN');
    const settingsText = (await page.getByTestId('settings').textContent()) ?? '';
    expect(settingsText).toContain('设置');
    expect(settingsText).not.toMatch(RAW_KEY);
    await page.keyboard.press('Escape');
    await page.getByTestId('view-golive').click();
    await expect.poll(() => text('golive-key-note'), { timeout: 10_000 }).toMatch(/频道名称/);
    await press('?');
    const body = (await page.locator('body').textContent()) ?? '';
    expect(body).not.toMatch(RAW_KEY);
    expect(body).toContain('键盘快捷键');
    await shot('zh-CN', 1920, 1080);
    await shot('zh-CN', 800, 600);
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByTestId('view-watch').click();
    // Back to the OS language.
    await page.getByTestId('settings-open').click();
    await page.getByTestId('setting-language').selectOption('system');
    await expect.poll(() => text('view-golive'), { timeout: 5_000 }).toBe('Go live');
    await page.keyboard.press('Escape');
  });

  it('follows the OS language when it is Chinese', async () => {
    const zh = await launchChromium({ locale: 'zh-CN' });
    try {
      const p = await openViewer(zh.context, web!.url);
      await expect.poll(async () => (await p.getByTestId('view-golive').textContent())?.trim()).toBe('开播');
      const body = (await p.locator('body').textContent()) ?? '';
      expect(body).not.toMatch(RAW_KEY);
      expect(body).toContain('频道');
    } finally {
      await zh.close();
    }
  });
});
