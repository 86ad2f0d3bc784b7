/**
 * Headless Chromium on the browser mode (`swarmcast web`), for the renderer tests and
 * bench:startup: building the renderer when it is stale, starting the web core with its own
 * settings, launching Debian's chromium through playwright-core (never its browser download),
 * reading the renderer's test hook, a "not black" check of the video, and an FLV tap that
 * reads the first media timestamps of every FLV stream a page fetches (to map the frame shown
 * to origin wall-clock time, SYSTEM.md's latency definition).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { DEFAULT_SETTINGS, type Settings } from '../../common/ipc-contract';
import { type SignedManifest, signedManifestSchema } from '../../common/manifest';
import { until } from './media';
import { type RunningCommand, runSwarmcast } from './processes';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RENDERER_INDEX = join(ROOT, 'out/renderer/index.html');
export const CHROMIUM = process.env.SWARMCAST_CHROMIUM ?? '/usr/bin/chromium';
export const MPEGTS_UMD = join(ROOT, 'node_modules/mpegts.js/dist/mpegts.js');

// ── renderer build ─────────────────────────────────────────────────────────────────────────

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(tsx?|css|html)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** True when out/renderer is missing or older than the renderer's (or common/'s) sources. */
export function rendererStale(): boolean {
  if (!existsSync(RENDERER_INDEX)) return true;
  const built = statSync(RENDERER_INDEX).mtimeMs;
  return Math.max(newestMtime(join(ROOT, 'renderer')), newestMtime(join(ROOT, 'common'))) > built;
}

/**
 * Runs `npx electron-vite build` when the built renderer is missing or stale. Test files run in
 * parallel workers and several call this: the build runs under a lock (a directory, created
 * atomically) and staleness is checked again inside it, so one worker's build never empties
 * out/renderer under another worker's running `swarmcast web`.
 */
export async function ensureRendererBuilt(timeoutMs = 90_000): Promise<void> {
  if (!rendererStale()) return;
  // Outside out/ (the build empties its folders there), one lock per checkout.
  const lock = join(tmpdir(), `swarmcast-renderer-build-${ROOT.replace(/[^a-zA-Z0-9]+/g, '_')}.lock`);
  const giveUpAt = Date.now() + 2 * timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a killed run: older than a build may take, it is taken over.
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > timeoutMs) await rm(lock, { recursive: true, force: true });
      if (Date.now() > giveUpAt) throw new Error('waited too long for another worker to build the renderer');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (rendererStale()) await buildRenderer(timeoutMs);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function buildRenderer(timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const p = spawn('npx', ['electron-vite', 'build', '--logLevel', 'error'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d) => {
      if (stderr.length < 20_000) stderr += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && existsSync(RENDERER_INDEX)) resolve();
      else reject(new Error(`electron-vite build failed (exit ${code}):\n${stderr}`));
    });
  });
}

// ── the web core ───────────────────────────────────────────────────────────────────────────

/** The settings the low-latency tests and benchmarks run with: the CDN path, no peers. */
export const LOW_LATENCY_SETTINGS: Settings = {
  ...DEFAULT_SETTINGS,
  latencyMode: 'low',
  p2pEnabled: false,
};

export interface WebCore {
  url: string;
  dataDir: string;
  cmd: RunningCommand;
  stop(): Promise<void>;
}

/** `swarmcast web --server URL --data <fresh dir with settings.json>`; resolves on its ready line. */
export async function startWeb(
  serverUrl: string,
  settings: Settings = LOW_LATENCY_SETTINGS,
): Promise<WebCore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-web-'));
  await writeFile(join(dataDir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
  const cmd = runSwarmcast(['web', '--server', serverUrl, '--data', dataDir]);
  const stop = async () => {
    if (cmd.child.exitCode === null && cmd.child.signalCode === null) {
      cmd.child.kill('SIGTERM');
      const killer = setTimeout(() => cmd.child.kill('SIGKILL'), 3_000);
      await cmd.exited;
      clearTimeout(killer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    let exited = false;
    void cmd.exited.then(() => {
      exited = true;
    });
    await until(() => exited || cmd.lines.some((l) => l.event === 'ready'), 30_000, 'swarmcast web ready');
    const ready = cmd.lines.find((l) => l.event === 'ready');
    if (!ready) throw new Error(`swarmcast web exited: ${cmd.stderr.join('')}`);
    return { url: String(ready.url), dataDir, cmd, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ── Chromium ───────────────────────────────────────────────────────────────────────────────

export const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh Chromium profile in a temp dir (a persistent context, as on these machines it works). */
export async function launchChromium(opts: { locale?: string } = {}): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'swarmcast-chromium-'));
  await mkdir(profile, { recursive: true });
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        ...CHROMIUM_ARGS,
        ...(process.env.EXTRA_CHROMIUM_ARGS ? process.env.EXTRA_CHROMIUM_ARGS.split(' ') : []),
      ],
      viewport: { width: 1280, height: 800 },
      // The OS language the app sees (navigator.language); Chromium's own default otherwise.
      ...(opts.locale ? { locale: opts.locale } : {}),
    });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}

// ── the renderer's test hook ───────────────────────────────────────────────────────────────

export interface PlayerState {
  phase: 'idle' | 'opening' | 'playing' | 'offline' | 'unreachable' | 'error';
  ttffMs: number | null;
  latencyS: number | null;
  bufferS: number;
  stalls: number;
  stallSeconds: number;
  currentTime: number;
  playing: boolean;
  decodedFrames: number;
  sessionId: string | null;
  channel: string | null;
  error: string | null;
  players: number;
  previews: number;
  /** The channel whose player started hidden ahead of the click (hovered while idle). */
  warm: string | null;
  /** Channels waiting in standby while one plays (the next one first), and their players. */
  standbys: string[];
  standbyReady: string[];
  standbyPlayers: number;
  playbackRate: number;
}

/** What the page holds for tests (globalThis there is the window; the node tsconfig has no DOM types). */
export interface PageGlobals {
  __swarmcastPlayer?: {
    state(): unknown;
    coreOpen(): Promise<{ players: number; streams: number; channels: number }>;
  };
  __flvTap?: FlvTapEntry[];
}

export function playerState(page: Page): Promise<PlayerState> {
  return page.evaluate(() => {
    const hook = (globalThis as PageGlobals).__swarmcastPlayer;
    if (!hook) throw new Error('window.__swarmcastPlayer is missing');
    return hook.state();
  }) as Promise<PlayerState>;
}

/** Polls the test hook until `cond` holds; returns the state that satisfied it. */
export async function waitForState(
  page: Page,
  cond: (s: PlayerState) => boolean,
  timeoutMs: number,
  what: string,
): Promise<PlayerState> {
  let last: PlayerState | null = null;
  const end = Date.now() + timeoutMs;
  for (;;) {
    last = await playerState(page);
    if (cond(last)) return last;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; last state ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens the gateway page and waits for the channel list to show `channel-<id>`. */
export async function openViewer(context: BrowserContext, url: string, channel = 'demo'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId(`channel-${channel}`).waitFor({ state: 'visible', timeout: 20_000 });
  await page.waitForFunction(() => !!(globalThis as PageGlobals).__swarmcastPlayer, undefined, {
    timeout: 10_000,
  });
  return page;
}

export interface PictureStats {
  width: number;
  height: number;
  mean: number;
  variance: number;
}

/**
 * The current picture of the player's shown <video> (or `selector`), drawn into a small canvas:
 * mean and variance of the luma. A black (or single-colour) box has variance ≈ 0.
 */
export function videoPicture(page: Page, selector = 'video[data-testid="video"]'): Promise<PictureStats> {
  return page.evaluate(`(() => {
    const v = document.querySelector(${JSON.stringify(selector)});
    if (!v) throw new Error('no video element');
    const w = 160;
    const h = Math.max(1, Math.round((w * (v.videoHeight || 9)) / (v.videoWidth || 16)));
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(v, 0, 0, w, h);
    const d = ctx.getImageData(0, 0, w, h).data;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += y;
      sq += y * y;
    }
    const n = w * h;
    const mean = sum / n;
    return { width: v.videoWidth, height: v.videoHeight, mean, variance: sq / n - mean * mean };
  })()`) as Promise<PictureStats>;
}

/**
 * Luma statistics of a PNG (what playwright's screenshot() returns): 8-bit RGB or RGBA,
 * not interlaced. A black (or one-colour) picture has variance ≈ 0.
 */
export function pngPicture(png: Buffer): PictureStats {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      if (depth !== 8 || data[12] !== 0 || (colour !== 2 && colour !== 6))
        throw new Error(`unsupported PNG (depth ${depth}, colour type ${colour}, interlace ${data[12]})`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = new Uint8Array(stride);
  const cur = new Uint8Array(stride);
  let sum = 0;
  let sq = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = (line[i]! + pred) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = x * channels;
      const l = 0.299 * cur[o]! + 0.587 * cur[o + 1]! + 0.114 * cur[o + 2]!;
      sum += l;
      sq += l * l;
    }
    prev.set(cur);
  }
  const n = width * height;
  const mean = sum / n;
  return { width, height, mean, variance: sq / n - mean * mean };
}

// ── FLV tap: first media timestamps of every FLV stream the page fetches ──────────────────

export interface FlvTapEntry {
  url: string;
  /** First audio/video frame timestamps (ms; sequence headers excluded), null until seen. */
  firstAudioTs: number | null;
  firstVideoTs: number | null;
}

/**
 * An init script that wraps window.fetch: every response whose URL ends in .flv is passed
 * through unchanged while its first tags are parsed. mpegts.js maps the smaller of the first
 * audio and first video sample timestamps to currentTime 0, so the FLV timestamp of the frame
 * shown is min(firstAudioTs, firstVideoTs) + currentTime·1000.
 */
export async function installFlvTap(context: BrowserContext): Promise<void> {
  // A string, not a function: tsx/esbuild would wrap named inner functions in a __name()
  // helper that does not exist in the page.
  await context.addInitScript({ content: FLV_TAP_SCRIPT });
}

const FLV_TAP_SCRIPT = `(() => {
  const taps = [];
  window.__flvTap = taps;
  const original = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const res = await original(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!/\\.flv(\\?|$)/.test(url) || !res.body) return res;
    const entry = { url, firstAudioTs: null, firstVideoTs: null };
    taps.push(entry);
    let buf = new Uint8Array(0);
    let pos = 13; // FLV header (9) + PreviousTagSize0 (4)
    let done = false;
    function parse(chunk) {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      while (!done && pos + 13 <= buf.length) {
        const type = buf[pos] & 0x1f;
        const size = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3];
        const ts = ((buf[pos + 7] << 24) | (buf[pos + 4] << 16) | (buf[pos + 5] << 8) | buf[pos + 6]) >>> 0;
        const b0 = buf[pos + 11];
        const b1 = buf[pos + 12];
        if (type === 8 && entry.firstAudioTs === null && !((b0 >> 4) === 10 && b1 === 0)) entry.firstAudioTs = ts;
        if (type === 9 && entry.firstVideoTs === null && !((b0 & 0x0f) === 7 && b1 === 0)) entry.firstVideoTs = ts;
        pos += 11 + size + 4;
        done = entry.firstAudioTs !== null && entry.firstVideoTs !== null;
      }
      if (done) buf = new Uint8Array(0);
    }
    const reader = res.body.getReader();
    const body = new ReadableStream({
      async pull(controller) {
        const r = await reader.read();
        if (r.done) return controller.close();
        if (!done) {
          try { parse(r.value); } catch { done = true; }
        }
        controller.enqueue(r.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    const tapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    // mpegts.js treats a changed res.url as a redirect and would reconnect to it.
    Object.defineProperty(tapped, 'url', { value: res.url });
    return tapped;
  };
})();`;

/** The FLV timestamp mpegts.js shows at currentTime 0 for the newest tapped stream matching `urlPart`. */
export function tappedBaseTs(page: Page, urlPart: string): Promise<number | null> {
  return page.evaluate((part) => {
    const taps = ((globalThis as PageGlobals).__flvTap ?? []).filter((t) => t.url.includes(part));
    const t = taps[taps.length - 1];
    if (!t) return null;
    const ts = [t.firstAudioTs, t.firstVideoTs].filter((x): x is number => x !== null);
    return ts.length ? Math.min(...ts) : null;
  }, urlPart);
}

// ── origin time of a frame, from the origin's signed manifests ─────────────────────────────

/**
 * Remembers every segment (startTs → originTime) of a channel's manifest, polled every
 * `periodMs`, so a frame's origin time can be found after the fact.
 */
export class ManifestHistory {
  private readonly anchors = new Map<number, number>();
  private stream: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly manifestUrl: string) {}

  async poll(): Promise<void> {
    const res = await fetch(this.manifestUrl);
    if (!res.ok) return;
    const signed: SignedManifest = signedManifestSchema.parse(await res.json());
    if (signed.manifest.stream !== this.stream) {
      this.stream = signed.manifest.stream;
      this.anchors.clear();
    }
    for (const s of signed.manifest.segments) this.anchors.set(s.startTs, s.originTime);
  }

  start(periodMs = 1000): void {
    this.timer = setInterval(() => void this.poll().catch(() => undefined), periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Origin wall-clock time (ms) of the frame with FLV timestamp `ts`: originTime + ts − startTs of its segment. */
  originTimeOf(ts: number): number | null {
    let best: number | null = null;
    for (const start of this.anchors.keys()) if (start <= ts && (best === null || start > best)) best = start;
    if (best === null) return null;
    return this.anchors.get(best)! + (ts - best);
  }
}

export interface Sample {
  state: PlayerState;
  /** FLV timestamp at currentTime 0 of the page's newest gateway stream (from the tap), or null. */
  baseTs: number | null;
  /** The page's Date.now() when the state was read. */
  now: number;
}

/** The test hook's state, the tapped time base of the newest stream whose URL holds `urlPart`, and the time. */
export function sample(page: Page, urlPart = '/stream/'): Promise<Sample> {
  return page.evaluate((part) => {
    const g = globalThis as PageGlobals;
    const hook = g.__swarmcastPlayer;
    if (!hook) throw new Error('window.__swarmcastPlayer is missing');
    const state = hook.state();
    const taps = (g.__flvTap ?? []).filter((t) => t.url.includes(part));
    const t = taps[taps.length - 1];
    const ts = t ? [t.firstAudioTs, t.firstVideoTs].filter((x): x is number => x !== null) : [];
    return { state, baseTs: ts.length ? Math.min(...ts) : null, now: Date.now() };
  }, urlPart) as Promise<Sample>;
}
