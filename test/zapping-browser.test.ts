/**
 * Zapping in real Chromium through browser mode: three live channels (the demo clip looped on
 * each), the hover preview tile of a pre-joined channel showing frames, the hovered channel's
 * player started hidden while nothing plays and shown by the click, the next and previous
 * channels waiting in standby on their own <video> elements while one plays (the next one
 * playing on hidden, the previous paused), shown by Page Down / Page Up and dropped by the
 * setting, and 50 switches with Page Down (standbys off: on the same player) that leave no
 * player, MediaSource, core session or gateway stream behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../server/log';
import { type DemoLoop, loadDemoClip, startDemoLoop } from '../server/origin/demo-source';
import { defaultDemoClip, type RunningServer, startServer } from '../server/run-server';
import {
  type Browser,
  ensureRendererBuilt,
  LOW_LATENCY_SETTINGS,
  launchChromium,
  openViewer,
  type PageGlobals,
  playerState,
  startWeb,
  type WebCore,
  waitForState,
} from './support/browser';
import { until } from './support/media';

const CHANNELS = ['demo', 'zap-b', 'zap-c'];

/** Counts MediaSource objects that are not closed (a detached one fires 'sourceclose'). */
const MEDIA_SOURCE_COUNTER = `(() => {
  const Base = window.MediaSource;
  if (!Base) return;
  let open = 0;
  window.__openMediaSources = () => open;
  window.MediaSource = class extends Base {
    constructor() {
      super();
      open++;
      this.addEventListener('sourceclose', () => { open--; }, { once: true });
    }
  };
})();`;

let dir = '';
let origin: RunningServer | null = null;
const loops: DemoLoop[] = [];
let web: WebCore | null = null;
let browser: Browser | null = null;
let page: Page;

/** The hidden <video> elements the standbys use, as the page sees them. */
const standbyElements = () =>
  page.evaluate(
    `[...document.querySelectorAll('video[data-role="standby"]')].map((v) => ({ paused: v.paused, ready: v.readyState >= 2, muted: v.muted, currentTime: v.currentTime }))`,
  ) as Promise<Array<{ paused: boolean; ready: boolean; muted: boolean; currentTime: number }>>;
/** Flips the "Instant channel switching" setting in the settings pane. */
async function toggleStandby(): Promise<void> {
  await page.getByTestId('settings-open').click();
  await page.getByTestId('setting-channel-standby').click();
  await page.keyboard.press('Escape');
}
const openMediaSources = () => page.evaluate('window.__openMediaSources()') as Promise<number>;
const coreOpen = () =>
  page.evaluate(() => (globalThis as PageGlobals).__swarmcastPlayer!.coreOpen()) as Promise<{
    players: number;
    streams: number;
    channels: number;
  }>;

beforeAll(async () => {
  await ensureRendererBuilt();
  dir = await mkdtemp(join(tmpdir(), 'swarmcast-zap-'));
  origin = await startServer({ httpPort: 0, rtmpPort: null, stunPort: 0, dataDir: dir, log: silentLogger() });
  const clip = await loadDemoClip(defaultDemoClip());
  for (const id of CHANNELS.slice(1)) {
    const sink = origin.origin.resolvePublish(id, 'test');
    if (typeof sink === 'string') throw new Error(sink);
    loops.push(startDemoLoop(clip, sink));
  }
  await until(
    () => CHANNELS.every((id) => (origin!.origin.channels.get(id)?.latestSeq ?? -1) >= 2),
    15_000,
    'three channels on the air',
  );
  // Standbys off until the tests that are about them turn them on (they cost CPU: the other
  // tests need none, and Chromium tests in the other worker measure stalls and latency).
  web = await startWeb(origin.httpUrl, { ...LOW_LATENCY_SETTINGS, channelStandby: false });
  browser = await launchChromium();
  await browser.context.addInitScript({ content: MEDIA_SOURCE_COUNTER });
  page = await openViewer(browser.context, web.url);
  for (const id of CHANNELS) await page.getByTestId(`channel-${id}`).waitFor({ timeout: 15_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  for (const l of loops) l.stop();
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('zapping in headless Chromium', () => {
  it('shows a preview tile with frames for a hovered channel, and tears it down when the pointer leaves', async () => {
    await page.getByTestId('channel-zap-b').hover();
    const tile = page.getByTestId('preview-zap-b');
    await tile.waitFor({ state: 'visible', timeout: 10_000 });
    await until(
      async () =>
        (await tile
          .locator('video')
          .evaluate(
            (v) =>
              (
                v as unknown as { getVideoPlaybackQuality(): { totalVideoFrames: number } }
              ).getVideoPlaybackQuality().totalVideoFrames,
          )) > 0,
      10_000,
      'preview frames decoded',
    );
    expect(await tile.evaluate((el) => el.classList.contains('preview-shown'))).toBe(true);
    expect((await playerState(page)).previews).toBe(1);
    expect((await coreOpen()).channels).toBe(1);
    // Nothing plays: the hovered channel's player started too, hidden behind the idle screen.
    await until(async () => (await playerState(page)).warm === 'zap-b', 5_000, 'the warm player');
    expect((await playerState(page)).phase).toBe('idle');

    await page.mouse.move(900, 500);
    await tile.waitFor({ state: 'detached', timeout: 5_000 });
    await until(async () => (await playerState(page)).previews === 0, 5_000, 'preview player destroyed');
    await until(async () => (await coreOpen()).channels === 0, 5_000, 'the warm channel dropped');
    const left = await playerState(page);
    expect(left.warm).toBeNull();
    expect(left.players).toBe(0);
    expect((await coreOpen()).players).toBe(0);
    expect(await openMediaSources()).toBe(0);
  }, 40_000);

  it('a click on the hovered channel shows its warm player: no new session, sound as the user left it', async () => {
    const muted = await page.getByTestId('video').evaluate((v) => (v as unknown as { muted: boolean }).muted);
    await page.getByTestId('channel-zap-c').hover();
    await until(
      async () => {
        const playing = await page.getByTestId('video').evaluate((v) => {
          const video = v as unknown as { paused: boolean; readyState: number };
          return !video.paused && video.readyState >= 2;
        });
        return (await playerState(page)).warm === 'zap-c' && playing;
      },
      15_000,
      'the warm player plays hidden',
    );
    // Hidden and muted meanwhile; the store still shows the user's own sound setting.
    expect(await page.getByTestId('video').evaluate((v) => (v as unknown as { muted: boolean }).muted)).toBe(
      true,
    );
    expect(await page.getByTestId('status-message').getAttribute('data-phase')).toBe('idle');
    // The warm player's and the preview tile's.
    expect(await openMediaSources()).toBe(2);
    await page.getByTestId('channel-zap-c').click();
    // Shown at once; the time to first frame is to the next frame painted.
    const s = await waitForState(
      page,
      (x) => x.phase === 'playing' && x.channel === 'zap-c' && x.ttffMs !== null,
      5_000,
      'zap-c shown',
    );
    expect(s.warm).toBeNull();
    expect(s.players).toBe(1);
    // The same MediaSource plays on (the preview tile's goes with the tile).
    await until(async () => (await openMediaSources()) === 1, 5_000, 'one MediaSource');
    expect(await coreOpen()).toMatchObject({ players: 1, streams: 1 });
    expect(await page.getByTestId('video').evaluate((v) => (v as unknown as { muted: boolean }).muted)).toBe(
      muted,
    );
    await page.getByTestId('stop').click();
    await until(async () => (await coreOpen()).players === 0, 5_000, 'no core session after stop');
    await page.mouse.move(900, 500);
  }, 40_000);

  it('zaps to the channels waiting in standby: their own element is shown, the old player and session are freed', async () => {
    await toggleStandby();
    await page.getByTestId('channel-demo').click();
    await waitForState(page, (s) => s.phase === 'playing' && s.channel === 'demo', 15_000, 'demo playing');
    // The next channel (zap-b) plays on hidden and muted; the previous one (zap-c) waits paused.
    await until(
      async () => {
        const s = await playerState(page);
        if (s.standbyPlayers !== 2) return false;
        const spares = await standbyElements();
        const loaded = spares.filter((x) => x.ready);
        return (
          loaded.length === 2 && loaded.every((x) => x.muted) && loaded.filter((x) => !x.paused).length === 1
        );
      },
      15_000,
      'two standbys loaded: one rolling, one paused',
    );
    expect((await playerState(page)).standbys).toEqual(['zap-b', 'zap-c']);
    expect(await openMediaSources()).toBe(3);
    expect(await coreOpen()).toMatchObject({ players: 3, streams: 3, channels: 3 });
    await until(async () => (await playerState(page)).standbyReady.includes('zap-b'), 15_000, 'zap-b ready');
    const first = await page.getByTestId('video').elementHandle();
    const firstSession = (await playerState(page)).sessionId;

    await page.keyboard.press('PageDown');
    const b = await waitForState(
      page,
      (s) => s.phase === 'playing' && s.channel === 'zap-b' && s.ttffMs !== null,
      5_000,
      'zap-b shown',
    );
    expect(b.sessionId).not.toBe(firstSession);
    // Another element is shown now, with the user's sound; the old one is hidden and emptied.
    expect(await first!.evaluate((v) => (v as unknown as { dataset: { role: string } }).dataset.role)).toBe(
      'standby',
    );
    await until(async () => (await playerState(page)).players === 1, 5_000, 'the old player torn down');
    await until(
      async () => {
        const s = await playerState(page);
        return s.standbyPlayers === 2 && s.standbys.join() === 'zap-c,demo';
      },
      15_000,
      'the new neighbours in standby',
    );
    const frames = (await playerState(page)).decodedFrames;
    await until(async () => (await playerState(page)).decodedFrames > frames + 10, 5_000, 'zap-b decoding');

    // Page Up: the previous channel (demo), which waited paused, plays from its keyframe.
    await until(
      async () => (await standbyElements()).some((v) => v.paused && v.ready && v.currentTime > 0),
      15_000,
      'demo paused on a keyframe',
    );
    await until(async () => (await playerState(page)).standbyReady.includes('demo'), 15_000, 'demo ready');
    await page.keyboard.press('PageUp');
    await waitForState(
      page,
      (s) => s.phase === 'playing' && s.channel === 'demo' && s.ttffMs !== null && s.playing,
      5_000,
      'demo shown again',
    );
    await until(
      async () => (await coreOpen()).players === 1 + (await playerState(page)).standbyPlayers,
      5_000,
      'one played session besides the standbys',
    );

    // A click in the list on a channel waiting in standby shows it the same way.
    await until(async () => (await playerState(page)).standbyPlayers === 2, 15_000, 'standbys for demo');
    await until(async () => (await standbyElements()).filter((v) => v.ready).length === 2, 15_000, 'loaded');
    await until(async () => (await playerState(page)).standbyReady.includes('zap-b'), 15_000, 'zap-b ready');
    const shownBefore = await page.getByTestId('video').elementHandle();
    await page.getByTestId('channel-zap-b').click();
    await waitForState(
      page,
      (s) => s.phase === 'playing' && s.channel === 'zap-b' && s.ttffMs !== null,
      5_000,
      'zap-b',
    );
    expect(
      await shownBefore!.evaluate((v) => (v as unknown as { dataset: { role: string } }).dataset.role),
    ).toBe('standby');
    await page.mouse.move(900, 500);

    // Off in the settings: the standbys go at once (their sessions and MediaSources too); on again, they come back.
    await toggleStandby();
    await until(
      async () => (await playerState(page)).standbys.length === 0 && (await openMediaSources()) === 1,
      5_000,
      'no standby with the setting off',
    );
    await until(async () => (await coreOpen()).players === 1, 5_000, 'only the played session in the core');
    await toggleStandby();
    await until(
      async () => (await playerState(page)).standbyPlayers === 2,
      15_000,
      'standbys back with the setting on',
    );
    // Off again for the tests after this one (the 50 switches take the splice path).
    await toggleStandby();
    await until(async () => (await playerState(page)).standbys.length === 0, 5_000, 'standbys off again');

    await page.getByTestId('stop').click();
    await until(async () => (await coreOpen()).players === 0, 5_000, 'no core session after stop');
    await until(async () => (await openMediaSources()) === 0, 5_000, 'no MediaSource after stop');
    const stopped = await playerState(page);
    expect(stopped.players).toBe(0);
    expect(stopped.standbys).toEqual([]);
  }, 90_000);

  it('switches 50 times with Page Down and leaves no session, stream, player or MediaSource behind', async () => {
    await page.getByTestId('channel-demo').click();
    await waitForState(page, (s) => s.phase === 'playing' && s.channel === 'demo', 15_000, 'demo playing');
    let channel = 'demo';
    const zapMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const next = CHANNELS[(CHANNELS.indexOf(channel) + 1) % CHANNELS.length]!;
      const started = Date.now();
      await page.keyboard.press('PageDown');
      await waitForState(
        page,
        (s) => s.phase === 'playing' && s.channel === next,
        15_000,
        `switch ${i} to ${next}`,
      );
      zapMs.push(Date.now() - started);
      channel = next;
    }
    zapMs.sort((a, b) => a - b);
    console.log(
      `zapping: 50 switches, median ${zapMs[25]} ms, p90 ${zapMs[45]} ms (test-harness polling included)`,
    );
    // The pointer still rests on the row clicked first: take it off (its preview tile goes).
    await page.mouse.move(900, 500);
    await until(async () => (await playerState(page)).previews === 0, 5_000, 'no preview tile');
    // Let the last closes land, then count what is left open.
    await until(
      async () => {
        const open = await coreOpen();
        return open.players === 1 && open.streams <= 1;
      },
      5_000,
      'one core session left',
    );
    const state = await playerState(page);
    expect(state.players).toBe(1);
    expect(state.phase).toBe('playing');
    expect(await openMediaSources()).toBe(1);
    const open = await coreOpen();
    expect(open.players).toBe(1);
    expect(open.streams).toBe(1);
    // The played channel plus its next and previous, kept warm.
    expect(open.channels).toBeLessThanOrEqual(3);

    // Stopping frees the last one too.
    await page.getByTestId('stop').click();
    await until(async () => (await coreOpen()).players === 0, 5_000, 'no core session after stop');
    await until(async () => (await openMediaSources()) === 0, 5_000, 'no MediaSource after stop');
    expect((await playerState(page)).players).toBe(0);
  }, 180_000);
});
