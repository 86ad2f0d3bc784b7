/**
 * coturn as the production STUN/TURN server (server/stun/README.md): `swarmcast server` hands
 * it out through the COM answer (--turn, --turn-user, SWARMCAST_TURN_PASSWORD), and a libdatachannel
 * PeerConnection configured from that answer gathers a srflx candidate from coturn's STUN and
 * a relay candidate from its TURN with the credentials. Skipped where coturn is not installed.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IceServer as DcIceServer, PeerConnection } from 'node-datachannel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoSchema } from '../common/com';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import { hasCoturn, startCoturn, stopCoturn } from './support/coturn';

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
  let coturn: ChildProcess | undefined;
  let server: RunningServer;
  let port: number;

  beforeAll(async () => {
    ({ coturn, port } = await startCoturn(['--lt-cred-mech', '--user=viewer:s3cret']));
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
    await stopCoturn(coturn);
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
