/**
 * Headless entry points of the viewer core:
 *   swarmcast peer --server URL --channel ID   a viewer without a screen; one JSON stats line a second
 *   swarmcast web [--server URL]               the core with the renderer served to a browser
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { everyBeat } from '../common/heartbeat';
import type { CoreLog } from '../common/logger';
import { createLogger, type Logger } from '../server/log';
import { packagePath } from '../server/package-path';
import { MemorySegmentCache } from './core/cache/segment-cache';
import { ChannelSession } from './core/channel-session';
import { startHeadlessSession } from './core/player/headless-session';
import { startViewerCore } from './core/viewer-core';
import { openBrowser, shouldOpenBrowser } from './open-browser';
import { startSwarm } from './p2p/swarm';
import { PROMISED_SEGMENTS } from './p2p/wire';
import { leanViewerRuntime, setLeanRuntime } from './viewer-runtime';

const VERSION = '0.1.0';

export function pinoCoreLog(log: Logger): CoreLog {
  return {
    info: (msg, f) => log.info(f ?? {}, msg),
    warn: (msg, f) => log.warn(f ?? {}, msg),
    error: (msg, f) => log.error(f ?? {}, msg),
    debug: (msg, f) => log.debug(f ?? {}, msg),
  };
}

/**
 * Runs `stop` once, then exits 0: on SIGINT/SIGTERM, and when whoever reads our lines has gone
 * (`swarmcast peer … | head -1`: the next write fails with EPIPE, which would otherwise be an
 * unhandled 'error' event that kills the process without its clean-up).
 */
function onSignals(stop: (why: string) => Promise<void>): void {
  let stopping = false;
  const once = (why: string) => {
    if (stopping) return;
    stopping = true;
    void stop(why).finally(() => process.exit(0));
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => once(sig));
  process.stdout.on('error', (err: NodeJS.ErrnoException) => once(`stdout: ${err.code ?? err.message}`));
}

async function peer(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      channel: { type: 'string', default: 'demo' },
      duration: { type: 'string' },
      'no-p2p': { type: 'boolean', default: false },
      'low-latency': { type: 'boolean', default: false },
      'upload-cap': { type: 'string' },
      'download-cap': { type: 'string' },
      'no-rate-control': { type: 'boolean', default: false },
      isp: { type: 'string' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.server) {
    process.stdout.write(
      'usage: swarmcast peer --server URL [--channel ID] [--duration SECONDS] [--no-p2p] [--low-latency]\n' +
        '                      [--upload-cap KBPS] [--download-cap KBPS] [--no-rate-control] [--isp NAME] [--region NAME]\n' +
        '  a viewer without a screen: prints one JSON line of stats a second; stops on SIGINT/SIGTERM\n' +
        '  or after --duration\n',
    );
    if (!values.server && !values.help) process.exitCode = 2;
    return;
  }
  const log = createLogger('swarmcast-peer');
  leanViewerRuntime((msg) => log.warn(msg));
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-peer-'));
  const core = await startViewerCore({
    dataDir,
    mode: 'headless',
    version: VERSION,
    serverUrl: values.server,
    hints: { isp: values.isp, region: values.region },
    rateControl: !values['no-rate-control'],
    onCdnOnly: (cdnOnly) => setLeanRuntime(!cdnOnly),
    log: pinoCoreLog(log),
  });
  const kbps = (flag: string, text: string | undefined) => {
    if (text === undefined) return null;
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag}: a whole number of kbit/s, got ${text}`);
    return n;
  };
  await core.invoke('settings.set', {
    p2pEnabled: !values['no-p2p'],
    latencyMode: values['low-latency'] ? 'low' : 'normal',
    uploadCapKbps: kbps('upload-cap', values['upload-cap']),
    downloadCapKbps: kbps('download-cap', values['download-cap']),
  });
  const channel = values.channel;
  const session = startHeadlessSession(core, channel);
  const player = session.player;
  const started = Date.now();
  const line = () => {
    const s = core.currentStats();
    const p = player.stats();
    const round = (x: number | null, d = 3) => (x === null ? null : Number(x.toFixed(d)));
    process.stdout.write(
      `${JSON.stringify({
        t: round((Date.now() - started) / 1000, 1),
        channel,
        state: s.state,
        peers: s.peers,
        bytes_cdn: s.bytesCdn,
        bytes_p2p: s.bytesP2p,
        bytes_seed: s.bytesSeed,
        bytes_up: s.bytesUp,
        upload_kbps: s.uploadKbps,
        upload_cap_kbps: s.uploadCapKbps,
        latency_s: round(p.latencyS),
        buffer_s: round(p.bufferS),
        stalls: p.stalls,
        stall_s: round(p.stallSeconds),
        ttff_ms: p.ttffMs,
        bytes_played: p.bytes,
        hash_failures: s.hashFailures,
        peers_banned: s.peersBanned,
      })}\n`,
    );
  };
  const stopLines = everyBeat(1000, line);
  const stop = async () => {
    stopLines();
    session.report();
    line();
    session.stop();
    await core.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  onSignals(stop);
  if (values.duration) {
    const seconds = Number(values.duration);
    if (!(seconds > 0)) throw new Error(`--duration: not a number of seconds: ${values.duration}`);
    setTimeout(() => void stop().finally(() => process.exit(0)), seconds * 1000);
  }
}

async function seed(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      channel: { type: 'string', default: 'demo' },
      copies: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.server) {
    process.stdout.write(
      'usage: swarmcast seed --server URL [--channel ID] [--copies N]\n' +
        '  a seed server: takes every segment from the origin as it is cut and gives each one to at\n' +
        '  most N viewers of its sub-room, who spread it further; one JSON stats line a second\n',
    );
    if (!values.server && !values.help) process.exitCode = 2;
    return;
  }
  const copies = Number(values.copies);
  if (!Number.isInteger(copies) || copies < 1 || copies > 64)
    throw new Error(`--copies: 1..64, got ${values.copies}`);
  const log = pinoCoreLog(createLogger('swarmcast-seed'));
  const cache = new MemorySegmentCache(64 * 1024 * 1024, PROMISED_SEGMENTS);
  const session: ChannelSession = new ChannelSession({
    serverUrl: values.server,
    channel: values.channel,
    cache,
    log,
    role: 'seed',
    // The secret comes from the environment only: a command line is readable by every local user.
    seedSecret: process.env.SWARMCAST_SEED_SECRET || undefined,
    swarm: (info, store, events) =>
      startSwarm(info, store, events, {
        role: 'seed',
        log,
        seedCopiesPerSegment: copies,
        latestSeq: () => session.latestSeq,
      }),
    policy: () => ({ p2p: true, latencyTargetMs: 0, downloadCapKbps: null }),
  });
  const started = Date.now();
  const line = () =>
    process.stdout.write(
      `${JSON.stringify({
        t: Number(((Date.now() - started) / 1000).toFixed(1)),
        channel: values.channel,
        role: 'seed',
        state: session.snapshot().state,
        peers: session.peerCount,
        bytes_cdn: session.bytesCdn,
        bytes_up: session.bytesUp,
        latest_seq: session.latestSeq,
      })}\n`,
    );
  const stopLines = everyBeat(1000, line);
  onSignals(async () => {
    stopLines();
    line();
    session.close();
  });
}

async function web(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      data: { type: 'string' },
      renderer: { type: 'string', default: packagePath('out', 'renderer') },
      'no-open': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: swarmcast web [--server URL] [--data DIR] [--no-open]\n' +
        '  serves the viewer to a browser on 127.0.0.1; without --server it runs a local demo server\n' +
        '  prints "Swarmcast is running at URL" and opens the default browser there, unless --no-open\n' +
        '  or SWARMCAST_NO_OPEN=1 (never when stdout is not a terminal or CI is set); when stdout is\n' +
        '  not a terminal it first prints a JSON line {"event":"ready","url":…} for scripts\n',
    );
    return;
  }
  if (!existsSync(join(values.renderer, 'index.html'))) {
    throw new Error(`no built renderer in ${values.renderer}: run "npm run build" first (npm run web does)`);
  }
  const log = createLogger('swarmcast-web');
  leanViewerRuntime((msg) => log.warn(msg));
  const serverLog = createLogger('embedded-origin');
  const terminal = process.stdout.isTTY === true;
  // On a terminal the address line is the output; the JSON logs show warnings and errors only,
  // unless SWARMCAST_LOG_LEVEL asks for more.
  if (terminal && !process.env.SWARMCAST_LOG_LEVEL) {
    log.level = 'warn';
    serverLog.level = 'warn';
  }
  const dataDir = values.data ?? join(homedir(), '.swarmcast', 'web');
  // The server's modules load only when browser mode runs its own demo server.
  const { localServer } = await import('./local-server');
  const local = localServer({ dataDir, log: serverLog });
  const core = await startViewerCore({
    dataDir,
    mode: 'web',
    version: VERSION,
    serverUrl: values.server,
    localServerUrl: () => local.url(),
    rendererDir: values.renderer,
    onCdnOnly: (cdnOnly) => setLeanRuntime(!cdnOnly),
    log: pinoCoreLog(log),
  });
  const url = core.gatewayUrl;
  // Scripts and tests (stdout not a terminal) read the JSON line; people read the sentence.
  if (!terminal) process.stdout.write(`${JSON.stringify({ event: 'ready', url, server: core.server })}\n`);
  process.stdout.write(`Swarmcast is running at ${url} — press Ctrl+C to stop\n`);
  const decision = shouldOpenBrowser({
    noOpenFlag: values['no-open'],
    env: process.env,
    stdoutIsTty: terminal,
  });
  if (decision.open) {
    openBrowser(url, (message) =>
      log.warn({ url, error: message }, 'could not open a browser; open the address yourself'),
    );
  } else {
    log.info({ url, reason: decision.reason }, 'not opening a browser');
  }
  onSignals(async () => {
    await core.close();
    await local.close();
  });
}

export async function main(argv: string[], command = 'peer'): Promise<void> {
  if (command === 'web') return web(argv);
  if (command === 'seed') return seed(argv);
  return peer(argv);
}
