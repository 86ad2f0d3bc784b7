/**
 * Headless entry points of the viewer core:
 *   swarmcast peer --server URL --channel ID   a viewer without a screen; one JSON stats line a second
 *   swarmcast web [--server URL]               the core with the renderer served to a browser
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SETTINGS } from '../common/ipc-contract';
import { createLogger, type Logger } from '../server/log';
import { HeadlessPlayer } from './core/headless-player';
import { startViewerCore } from './core/viewer-core';
import type { CoreLog } from './core/viewer-core-api';

const VERSION = '0.1.0';

export function pinoCoreLog(log: Logger): CoreLog {
  return {
    info: (msg, f) => log.info(f ?? {}, msg),
    warn: (msg, f) => log.warn(f ?? {}, msg),
    error: (msg, f) => log.error(f ?? {}, msg),
    debug: (msg, f) => log.debug(f ?? {}, msg),
  };
}

function onSignals(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      void stop(sig).finally(() => process.exit(0));
    });
  }
}

async function peer(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      channel: { type: 'string', default: 'demo' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.server) {
    process.stdout.write(
      'usage: swarmcast peer --server URL [--channel ID] [--duration SECONDS]\n' +
        '  prints one JSON line of stats a second; stops on SIGINT/SIGTERM or after --duration\n',
    );
    if (!values.server && !values.help) process.exitCode = 2;
    return;
  }
  const log = createLogger('swarmcast-peer');
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-peer-'));
  const core = await startViewerCore({
    dataDir,
    mode: 'headless',
    version: VERSION,
    serverUrl: values.server,
    log: pinoCoreLog(log),
  });
  const channel = values.channel;
  const opened = core.openPlayer(channel);
  const started = Date.now();
  const player = new HeadlessPlayer(
    opened.streamUrl,
    () => {
      const p = core.player(opened.sessionId);
      if (!p) return null;
      return {
        firstTs: p.firstTs,
        anchors: () => p.session.anchors(),
        clockOffsetMs: p.session.clockOffsetMs,
      };
    },
    () => DEFAULT_SETTINGS.liveSync,
  );
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
        bytes_up: s.bytesUp,
        latency_s: round(p.latencyS),
        buffer_s: round(p.bufferS),
        stalls: p.stalls,
        stall_s: round(p.stallSeconds),
        ttff_ms: p.ttffMs,
        bytes_played: p.bytes,
      })}\n`,
    );
  };
  const timer = setInterval(line, 1000);
  const stop = async () => {
    clearInterval(timer);
    line();
    player.stop();
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

export const RENDERER_DIR = fileURLToPath(new URL('../out/renderer', import.meta.url));

async function web(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      data: { type: 'string' },
      renderer: { type: 'string', default: RENDERER_DIR },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: swarmcast web [--server URL] [--data DIR]\n' +
        '  serves the viewer to a browser on 127.0.0.1; without --server it runs a local demo server\n',
    );
    return;
  }
  if (!existsSync(join(values.renderer, 'index.html'))) {
    throw new Error(`no built renderer in ${values.renderer}: run "npm run build" first (npm run web does)`);
  }
  const log = createLogger('swarmcast-web');
  const core = await startViewerCore({
    dataDir: values.data ?? join(homedir(), '.swarmcast', 'web'),
    mode: 'web',
    version: VERSION,
    serverUrl: values.server,
    rendererDir: values.renderer,
    log: pinoCoreLog(log),
  });
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: core.gatewayUrl, server: core.server })}\n`);
  log.info({ url: core.gatewayUrl }, 'open this address in a browser');
  onSignals(() => core.close());
}

export async function main(argv: string[], command = 'peer'): Promise<void> {
  if (command === 'web') return web(argv);
  return peer(argv);
}
