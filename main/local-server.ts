/**
 * The embedded local server of the entry points (desktop app, browser mode, headless peer):
 * origin, COM, tracker and STUN on loopback with the demo channel, started the first time a
 * viewer core asks for it. The viewer core never starts a server itself; it is handed
 * `url` and asks it only when no server address is configured.
 */
import { join } from 'node:path';
import type { Logger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';

export interface LocalServer {
  /** Starts the server on first use; its HTTP base URL. */
  url(): Promise<string>;
  close(): Promise<void>;
}

export function localServer(opts: { dataDir: string; demoClip?: string; log: Logger }): LocalServer {
  let running: Promise<RunningServer> | null = null;
  return {
    url() {
      running ??= startServer({
        host: '127.0.0.1',
        httpPort: 0,
        rtmpPort: 0,
        dataDir: join(opts.dataDir, 'local-server'),
        demo: true,
        demoClip: opts.demoClip,
        log: opts.log,
      }).then((s) => {
        opts.log.info({ http: s.httpUrl, rtmp: s.rtmpUrl }, 'embedded server started');
        return s;
      });
      running.catch(() => {
        running = null;
      });
      return running.then((s) => s.httpUrl);
    },
    async close() {
      const s = await running?.catch(() => null);
      await s?.close();
    },
  };
}
