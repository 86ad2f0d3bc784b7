/** A real coturn for tests: a free UDP port, spawn with given auth flags, wait for its STUN answer. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasCoturn = spawnSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' }).status === 0;

export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once the server at `port` answers a STUN Binding Request (polled every 100 ms). */
export function stunReady(port: number, timeoutMs: number): Promise<void> {
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(req, 8);
  const s = createSocket('udp4');
  return new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => finish(new Error('coturn did not answer STUN')), timeoutMs);
    const poll = setInterval(() => s.send(req, port, '127.0.0.1'), 100);
    const finish = (err?: Error) => {
      clearTimeout(deadline);
      clearInterval(poll);
      s.close();
      if (err) reject(err);
      else resolve();
    };
    s.on('message', (msg) => {
      if (msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(req.subarray(8, 20))) finish();
    });
    s.send(req, port, '127.0.0.1');
  });
}

/** Tries on fresh ports: a port found free may be taken by another test's socket before coturn binds it. */
const START_ATTEMPTS = 3;

/**
 * coturn on 127.0.0.1 relaying on loopback, with the given auth flags, on a free port; ready
 * when it answers STUN. A coturn that exits or stays silent is stopped and started again on
 * another port.
 */
export async function startCoturn(
  authFlags: readonly string[],
): Promise<{ coturn: ChildProcess; port: number }> {
  let last: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freeUdpPort();
    const coturn = await spawnCoturn(port, authFlags);
    // Neither side may reject unobserved: each settles to a value.
    const ready = stunReady(port, 10_000).then(
      () => null,
      (err: unknown) => err,
    );
    const exited = new Promise((r) =>
      coturn.once('exit', () => r(new Error(`coturn exited (port ${port})`))),
    );
    const failure = await Promise.race([ready, exited]);
    if (failure === null) return { coturn, port };
    last = failure;
    await stopCoturn(coturn);
  }
  throw last;
}

async function spawnCoturn(port: number, authFlags: readonly string[]): Promise<ChildProcess> {
  return spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--relay-ip=127.0.0.1',
      ...authFlags,
      '--realm=swarmcast.test',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--log-file=stdout',
      `--pidfile=${join(await mkdtemp(join(tmpdir(), 'swarmcast-coturn-')), 'turnserver.pid')}`,
    ],
    { stdio: 'ignore' },
  );
}

/** SIGTERM, then wait (at most 2 s) for it to go. */
export async function stopCoturn(coturn: ChildProcess | undefined): Promise<void> {
  if (!coturn || coturn.exitCode !== null) return;
  const exited = new Promise((r) => coturn.once('exit', r));
  coturn.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
}
