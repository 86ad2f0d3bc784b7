/**
 * coturn as the production STUN/TURN server (server/stun/README.md): `swarmcast server` hands
 * it out through the COM answer (--turn, --turn-user, --turn-pass), and a libdatachannel
 * PeerConnection configured from that answer gathers a srflx candidate from coturn's STUN and
 * a relay candidate from its TURN with the credentials. Skipped where coturn is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IceServer as DcIceServer, PeerConnection } from 'node-datachannel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoSchema } from '../common/com';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';

const hasCoturn = spawnSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' }).status === 0;

function freeUdpPort(): Promise<number> {
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
function stunReady(port: number, timeoutMs: number): Promise<void> {
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

/** Channel-info ICE servers in node-datachannel's form. */
function toDataChannelIce(list: ComChannelInfo['iceServers']): Array<string | DcIceServer> {
  const out: Array<string | DcIceServer> = [];
  for (const s of list) {
    for (const url of s.urls) {
      const m = /^(stun|turn):([^:?]+):(\d+)/.exec(url);
      if (!m) continue;
      if (m[1] === 'stun') out.push(url);
      else if (s.username && s.credential) {
        out.push({
          hostname: m[2]!,
          port: Number(m[3]),
          username: s.username,
          password: s.credential,
          relayType: 'TurnUdp',
        });
      }
    }
  }
  return out;
}

describe.skipIf(!hasCoturn)('coturn as STUN/TURN server', () => {
  let coturn: ChildProcess;
  let server: RunningServer;
  let port: number;

  beforeAll(async () => {
    port = await freeUdpPort();
    coturn = spawn(
      'turnserver',
      [
        '-n',
        '--listening-ip=127.0.0.1',
        `--listening-port=${port}`,
        '--relay-ip=127.0.0.1',
        '--lt-cred-mech',
        '--user=viewer:s3cret',
        '--realm=swarmcast.test',
        '--no-cli',
        '--no-tls',
        '--no-dtls',
        '--log-file=stdout',
        `--pidfile=${join(await mkdtemp(join(tmpdir(), 'swarmcast-coturn-')), 'turnserver.pid')}`,
      ],
      { stdio: 'ignore' },
    );
    await stunReady(port, 10_000);
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      iceServers: [{ urls: [`stun:127.0.0.1:${port}`] }],
      turn: { urls: [`turn:127.0.0.1:${port}?transport=udp`], username: 'viewer', credential: 's3cret' },
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-coturn-')),
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    await server?.close();
    coturn?.kill('SIGTERM');
  });

  it('gathers srflx and relay candidates with the ICE servers from the COM answer', async () => {
    const res = await fetch(`${server.httpUrl}/api/channels/demo`);
    const info = channelInfoSchema.parse(await res.json());
    expect(info.iceServers).toEqual([
      { urls: [`stun:127.0.0.1:${port}`] },
      { urls: [`turn:127.0.0.1:${port}?transport=udp`], username: 'viewer', credential: 's3cret' },
    ]);
    const pc = new PeerConnection('coturn-test', { iceServers: toDataChannelIce(info.iceServers) });
    try {
      const types = await new Promise<Set<string>>((resolve, reject) => {
        const seen = new Set<string>();
        const timer = setTimeout(() => reject(new Error(`only ${[...seen].join(', ')} within 10 s`)), 10_000);
        // Exceptions inside node-datachannel callbacks abort the process: keep them in.
        pc.onLocalCandidate((candidate) => {
          try {
            const type = / typ (\w+)/.exec(candidate)?.[1];
            if (type) seen.add(type);
            if (seen.has('srflx') && seen.has('relay')) {
              clearTimeout(timer);
              resolve(seen);
            }
          } catch {
            // ignore
          }
        });
        pc.onGatheringStateChange((state) => {
          try {
            if (state === 'complete') {
              clearTimeout(timer);
              resolve(seen);
            }
          } catch {
            // ignore
          }
        });
        pc.createDataChannel('probe');
      });
      expect([...types].sort()).toEqual(expect.arrayContaining(['relay', 'srflx']));
    } finally {
      pc.close();
    }
  });
});
