/**
 * A real redis-server (Debian's /usr/bin/redis-server) for one test file: a free port on
 * loopback, nothing persisted (--save '' --appendonly no), killed by stop().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface RunningRedis {
  url: string;
  port: number;
  child: ChildProcess;
  /** Commands Redis has run (INFO commandstats, summed; script calls count their inner commands). */
  commandCount(): Promise<number>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(
  bin = process.env.REDIS_SERVER ?? '/usr/bin/redis-server',
): Promise<RunningRedis> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const ready = await new Promise<boolean>((resolve) => {
      let out = '';
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      child.kill('SIGKILL');
      if (attempt < 3) continue;
      throw new Error(`redis-server did not start on port ${port}`);
    }
    const url = `redis://127.0.0.1:${port}`;
    const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    return {
      url,
      port,
      child,
      async commandCount() {
        if (admin.status === 'wait') await admin.connect();
        const text = await admin.info('commandstats');
        let n = 0;
        for (const m of text.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
          // INFO itself is the measurement, not the load.
          if (m[1] !== 'info') n += Number(m[2]);
        }
        return n;
      },
      async stop() {
        admin.disconnect();
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      },
    };
  }
}
