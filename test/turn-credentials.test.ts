/**
 * Time-limited TURN credentials (server/com/turn-credentials.ts, coturn's shared-secret "TURN
 * REST API"): the pure minting function, the COM service minting them per answer, and a real
 * coturn (--use-auth-secret) relaying for credentials from the COM answer while refusing expired
 * ones and ones signed with the wrong secret. The coturn part is skipped where it is not installed.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IceServer as DcIceServer, PeerConnection } from 'node-datachannel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelInfoSchema, type IceServer } from '../common/com';
import { ComService, DEFAULT_TURN_TTL_SECONDS, type TurnOptions } from '../server/com/com-service';
import { turnRestCredentials } from '../server/com/turn-credentials';
import { silentLogger } from '../server/log';
import type { Origin } from '../server/origin/origin';
import { signerFromKey } from '../server/origin/signing-key';
import { type RunningServer, startServer } from '../server/run-server';
import { hasCoturn, startCoturn, stopCoturn } from './support/coturn';

describe('turnRestCredentials', () => {
  const NOW = 1_700_000_000_000;
  it.each([
    // Expected credential computed independently: printf %s USERNAME | openssl dgst -sha1 -hmac north -binary | base64
    {
      name: 'known vector',
      input: { secret: 'north', ttlSeconds: 3600, now: NOW },
      username: '1700003600:swarmcast',
      credential: 'X33mrUW6s4gmLWlfMT7yZpLWypU=',
    },
    {
      name: 'custom user',
      input: { secret: 'north', ttlSeconds: 60, now: NOW, user: 'viewer-7' },
      username: '1700000060:viewer-7',
    },
    // Sub-second parts of `now` are dropped, so the expiry never lands later than now + ttl.
    {
      name: 'sub-second now',
      input: { secret: 's', ttlSeconds: 1, now: NOW + 999 },
      username: '1700000001:swarmcast',
    },
  ])('$name', ({ input, username, credential }) => {
    const got = turnRestCredentials(input);
    expect(got.username).toBe(username);
    expect(got.credential).toBe(createHmac('sha1', input.secret).update(username).digest('base64'));
    if (credential) expect(got.credential).toBe(credential);
    expect(got.expiresAt).toBe(Number(username.split(':')[0]) * 1000);
  });

  it.each([
    { name: 'empty secret', input: { secret: '', ttlSeconds: 60, now: NOW }, error: /secret/ },
    { name: 'zero ttl', input: { secret: 's', ttlSeconds: 0, now: NOW }, error: /ttlSeconds/ },
    { name: 'negative ttl', input: { secret: 's', ttlSeconds: -5, now: NOW }, error: /ttlSeconds/ },
    { name: 'fractional ttl', input: { secret: 's', ttlSeconds: 1.5, now: NOW }, error: /ttlSeconds/ },
    { name: 'NaN ttl', input: { secret: 's', ttlSeconds: Number.NaN, now: NOW }, error: /ttlSeconds/ },
    { name: 'NaN now', input: { secret: 's', ttlSeconds: 60, now: Number.NaN }, error: /now/ },
    { name: 'colon in user', input: { secret: 's', ttlSeconds: 60, now: NOW, user: 'a:b' }, error: /user/ },
    { name: 'empty user', input: { secret: 's', ttlSeconds: 60, now: NOW, user: '' }, error: /user/ },
  ])('rejects $name', ({ input, error }) => {
    expect(() => turnRestCredentials(input)).toThrow(error);
  });
});

const testSigner = signerFromKey(generateKeyPairSync('ed25519').privateKey);

describe('ComService with a shared-secret TURN server', () => {
  // Just enough of an origin for one channel-info answer: the TURN part is what is tested here.
  const origin = {
    channels: new Map([['demo', { live: true }]]),
    publicKey: 'AAAA',
    signedManifestBody: () => '{}',
  } as unknown as Origin;
  const com = (turn: TurnOptions, now: () => number) =>
    new ComService({ origin, signer: testSigner, log: silentLogger(), turn, now });

  /** The answer's ICE servers (the COM may answer after a sub-room placement, so it is awaited). */
  async function answer(service: ComService): Promise<IceServer[]> {
    let done: (body: string) => void = () => undefined;
    const ended = new Promise<string>((resolve) => {
      done = resolve;
    });
    const req = { method: 'GET', url: '/api/channels/demo', headers: { host: '127.0.0.1:8080' }, socket: {} };
    const res = {
      writeHead: () => res,
      end: (b?: string) => done(b ?? ''),
    };
    expect(service.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse)).toBe(true);
    return (JSON.parse(await ended) as { iceServers: IceServer[] }).iceServers;
  }

  it('mints fresh credentials per answer from the injected clock', async () => {
    let now = 1_700_000_000_000;
    const service = com({ urls: ['turn:127.0.0.1:3478'], secret: 'north', ttlSeconds: 3600 }, () => now);
    expect(await answer(service)).toEqual([
      {
        urls: ['turn:127.0.0.1:3478'],
        username: '1700003600:swarmcast',
        credential: 'X33mrUW6s4gmLWlfMT7yZpLWypU=',
      },
    ]);
    now += 10_000;
    expect((await answer(service))[0]!.username).toBe('1700003610:swarmcast');
  });

  it('defaults to a 6 h lifetime and keeps static credentials as they are', async () => {
    const now = 1_700_000_000_000;
    const minted = (await answer(com({ urls: ['turn:h:1'], secret: 'x' }, () => now)))[0]!;
    expect(minted.username).toBe(`${now / 1000 + DEFAULT_TURN_TTL_SECONDS}:swarmcast`);
    expect(DEFAULT_TURN_TTL_SECONDS).toBe(21_600);
    const fixed = { urls: ['turn:h:1'], username: 'viewer', credential: 's3cret' };
    expect(await answer(com(fixed, () => now))).toEqual([fixed]);
  });

  it('refuses unusable secrets and lifetimes when constructed', () => {
    expect(() => com({ urls: ['turn:h:1'], secret: '' }, Date.now)).toThrow(/secret must be non-empty/);
    expect(() => com({ urls: ['turn:h:1'], secret: 'x', ttlSeconds: 0 }, Date.now)).toThrow(
      /positive integer/,
    );
    expect(() => com({ urls: ['turn:h:1'], secret: 'x', ttlSeconds: 2.5 }, Date.now)).toThrow(
      /positive integer/,
    );
  });
});

/**
 * The candidate types a PeerConnection with only this TURN server gathers: settles when a relay
 * candidate shows up, when gathering completes, or after `waitMs` (a refused TURN allocation
 * may leave gathering pending for a long while, so the wait is what bounds the negative cases).
 */
function gatherTypes(turn: DcIceServer, waitMs: number): Promise<Set<string>> {
  const pc = new PeerConnection('turn-credentials-test', { iceServers: [turn] });
  const seen = new Set<string>();
  return new Promise<Set<string>>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve(seen);
    };
    const timer = setTimeout(done, waitMs);
    // Exceptions inside node-datachannel callbacks abort the process: keep them in.
    pc.onLocalCandidate((candidate) => {
      try {
        const type = / typ (\w+)/.exec(candidate)?.[1];
        if (type) seen.add(type);
        if (type === 'relay') done();
      } catch {
        // ignore
      }
    });
    pc.onGatheringStateChange((state) => {
      try {
        if (state === 'complete') done();
      } catch {
        // ignore
      }
    });
    pc.createDataChannel('probe');
  }).finally(() => pc.close());
}

describe.skipIf(!hasCoturn)('coturn with --use-auth-secret', () => {
  const secret = randomBytes(18).toString('base64');
  let coturn: ChildProcess | undefined;
  let server: RunningServer | undefined;
  let port: number;
  const dcTurn = (username: string, password: string): DcIceServer => ({
    hostname: '127.0.0.1',
    port,
    username,
    password,
    relayType: 'TurnUdp',
  });

  beforeAll(async () => {
    ({ coturn, port } = await startCoturn(['--use-auth-secret', `--static-auth-secret=${secret}`]));
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      iceServers: [],
      turn: { urls: [`turn:127.0.0.1:${port}?transport=udp`], secret, ttlSeconds: 600 },
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-coturn-')),
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    await server?.close();
    await stopCoturn(coturn);
  });

  it('relays for the credentials in the COM answer', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await fetch(`${server!.httpUrl}/api/channels/demo`);
    const info = channelInfoSchema.parse(await res.json());
    expect(info.iceServers).toHaveLength(1);
    const turn = info.iceServers[0]!;
    expect(turn.urls).toEqual([`turn:127.0.0.1:${port}?transport=udp`]);
    const [expiry, user] = turn.username!.split(':');
    expect(user).toBe('swarmcast');
    expect(Number(expiry) - before).toBeGreaterThanOrEqual(600);
    expect(Number(expiry) - before).toBeLessThanOrEqual(602);
    const types = await gatherTypes(dcTurn(turn.username!, turn.credential!), 10_000);
    expect([...types]).toContain('relay');
  }, 15_000);

  it('refuses expired credentials and ones signed with another secret', async () => {
    const expired = turnRestCredentials({ secret, ttlSeconds: 60, now: Date.now() - 3_600_000 });
    const forged = turnRestCredentials({ secret: `${secret}x`, ttlSeconds: 600, now: Date.now() });
    // Gathered side by side: each negative case has to sit out the whole bounded wait.
    const [expiredTypes, forgedTypes] = await Promise.all([
      gatherTypes(dcTurn(expired.username, expired.credential), 4_000),
      gatherTypes(dcTurn(forged.username, forged.credential), 4_000),
    ]);
    expect([...expiredTypes]).not.toContain('relay');
    expect([...forgedTypes]).not.toContain('relay');
  }, 15_000);
});
