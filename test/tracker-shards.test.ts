/**
 * Tracker shards coordinated through a real redis-server: the registry (registration with a
 * time to live, load), placement by the Lua scripts (least-loaded shard, split at K, ISP first,
 * the fullest sub-room, empty ones dropped, a rejoin keeps its sub-room, a dead shard's
 * sub-rooms moved, a shrunken sub-room merged), two placement clients racing on one room, two
 * COMs (startServer on two ports, one key) agreeing on placement while viewers join real shards
 * with their tickets, one of them a `swarmcast tracker` process, and a shard letting go of
 * sub-rooms placed elsewhere or merged away.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoSchema } from '../common/com';
import { TrackerClient } from '../main/p2p/tracker-client';
import { mintTicket, ticketKey } from '../server/com/join-ticket';
import { resolveServerConfig, toServerOptions } from '../server/config';
import { silentLogger } from '../server/log';
import { signerFromKey } from '../server/origin/signing-key';
import { type RunningServer, startServer } from '../server/run-server';
import { SHARDS_KEY, shardKey } from '../server/shards/redis-keys';
import { RedisPlacement } from '../server/shards/redis-placement';
import { type RunningShard, startShard } from '../server/tracker/run-shard';
import { loadTicketKey } from '../server/tracker/shard-cli';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';
import { type RunningCommand, runSwarmcast, trackerShardArgs } from './support/processes';
import { type RunningRedis, startRedis } from './support/redis';
import { trackerClientFor } from './support/tracker-join';

let redisServer: RunningRedis;
let redis: Redis;
beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
});

/** A shard record as a live shard writes it (the placement tests need no real tracker). */
async function fakeShard(id: string, load = 0, capacity = 100): Promise<void> {
  const record = { id, url: `ws://${id}.test:8081/tracker`, load, capacity, at: Date.now() };
  await redis.set(shardKey(id), JSON.stringify(record), 'PX', 60_000);
  await redis.sadd(SHARDS_KEY, id);
}

/** A sub-room's occupancy as its shard reports it. */
async function report(
  channel: string,
  sub: string,
  shard: string,
  v: number,
  i: Record<string, number> = {},
) {
  await redis.hset(`swarmcast:room:${channel}:occ`, sub, JSON.stringify({ shard, v, s: [], i, g: {} }));
  await redis.del(`swarmcast:room:${channel}:pend:${sub}`);
}

describe('placement in redis', () => {
  let clock = 1_000_000;
  let placement: RedisPlacement;
  beforeEach(async () => {
    await redis.flushall();
    clock = 1_000_000;
    placement?.close();
    placement = new RedisPlacement({
      redis,
      log: silentLogger(),
      splitThreshold: 3,
      pendingMs: 10_000,
      graceMs: 5_000,
      refreshMs: 60_000,
      now: () => clock,
    });
  });
  afterAll(() => placement.close());

  let n = 0;
  const peer = () => `peer${String(n++).padStart(12, '0')}`;

  it('places sub-rooms on the least-loaded live shard and opens another past K', async () => {
    await fakeShard('a', 50);
    await fakeShard('b', 10);
    await placement.refresh();
    expect(placement.shards.map((s) => s.id)).toEqual(['a', 'b']);
    const got = [];
    for (let i = 0; i < 7; i++) got.push(await placement.assign({ channel: 'demo', peerId: peer() }));
    // b reports less load (10 vs 50 of 100): every new sub-room goes there.
    expect(got.map((p) => `${p!.subRoom}@${p!.trackerUrl.slice(5, 6)}`)).toEqual([
      's0@b',
      's0@b',
      's0@b',
      's1@b',
      's1@b',
      's1@b',
      's2@b',
    ]);
    expect(got[0]!.created).toBe(true);
    expect(got[1]!.created).toBe(false);
    // Equal loads: the shard with fewer sub-rooms wins.
    await fakeShard('a', 0);
    await fakeShard('b', 0);
    await placement.refresh();
    const next = await placement.assign({ channel: 'other', peerId: peer() });
    expect(next!.trackerUrl).toContain('a.test');
  });

  it('pending viewers expire; ISP, then the fullest sub-room, attract newcomers', async () => {
    await fakeShard('a');
    await placement.refresh();
    for (let i = 0; i < 6; i++) await placement.assign({ channel: 'demo', peerId: peer() });
    // s0 and s1 full (pending); after the pending time they are empty again unless reported.
    await report('demo', 's0', 'a', 2, { red: 2 });
    await report('demo', 's1', 'a', 1, { blue: 1 });
    clock += 1000;
    expect((await placement.assign({ channel: 'demo', peerId: peer(), isp: 'blue' }))!.subRoom).toBe('s1');
    // No ISP match anywhere: the fullest with space (s0: 2 of 3).
    expect((await placement.assign({ channel: 'demo', peerId: peer(), isp: 'green' }))!.subRoom).toBe('s0');
    // s0 is full now (2 + 1 pending); s1 (1 + 1 pending) has one place left, then s2 opens.
    expect((await placement.assign({ channel: 'demo', peerId: peer() }))!.subRoom).toBe('s1');
    expect((await placement.assign({ channel: 'demo', peerId: peer() }))!.subRoom).toBe('s2');
    // Pending entries expire: with nobody reported in s2 and the grace over, s2 is dropped.
    clock += 20_000;
    await report('demo', 's0', 'a', 3, { red: 3 });
    await report('demo', 's1', 'a', 1, { blue: 1 });
    expect((await placement.assign({ channel: 'demo', peerId: peer() }))!.subRoom).toBe('s1');
    expect(await redis.hkeys('swarmcast:room:demo:subs')).toEqual(expect.arrayContaining(['s0', 's1']));
    expect(await redis.hexists('swarmcast:room:demo:subs', 's2')).toBe(0);
  });

  it('a rejoin goes back to its sub-room, even a full one', async () => {
    await fakeShard('a');
    await placement.refresh();
    const first = await placement.assign({ channel: 'demo', peerId: peer() });
    await placement.assign({ channel: 'demo', peerId: peer() });
    await placement.assign({ channel: 'demo', peerId: peer() });
    await placement.assign({ channel: 'demo', peerId: peer() }); // opens s1
    await report('demo', 's0', 'a', 1);
    await report('demo', 's1', 'a', 2);
    clock += 20_000;
    // Not preferring, a newcomer would pick the fullest (s1); the rejoin goes back to s0.
    expect(
      (await placement.assign({ channel: 'demo', peerId: peer(), prefer: first!.subRoom }))!.subRoom,
    ).toBe('s0');
    await report('demo', 's0', 'a', 3);
    expect((await placement.assign({ channel: 'demo', peerId: peer(), prefer: 's0' }))!.subRoom).toBe('s0');
    // A sub-room that no longer exists: the viewer goes where a newcomer would.
    expect(await placement.assign({ channel: 'demo', peerId: peer(), prefer: 's7' })).toMatchObject({
      subRoom: 's1',
      created: false,
    });
  });

  it('moves the sub-rooms of a shard whose registration expired', async () => {
    await fakeShard('a', 0);
    await fakeShard('b', 5);
    await placement.refresh();
    const p = await placement.assign({ channel: 'demo', peerId: peer() });
    expect(p!.trackerUrl).toContain('a.test');
    await redis.del(shardKey('a'));
    await placement.refresh();
    expect(placement.shards.map((s) => s.id)).toEqual(['b']);
    expect(placement.moved).toBe(1);
    expect(await redis.hget('swarmcast:room:demo:subs', 's0')).toBe('b');
    expect(await redis.sismember(SHARDS_KEY, 'a')).toBe(0);
    const again = await placement.assign({ channel: 'demo', peerId: peer(), prefer: 's0' });
    expect(again).toMatchObject({ subRoom: 's0', trackerUrl: 'ws://b.test:8081/tracker' });
    // No live shard at all: the COM falls back to its own tracker (null here).
    await redis.del(shardKey('b'));
    await placement.refresh();
    expect(await placement.assign({ channel: 'demo', peerId: peer() })).toBeNull();
  });

  it('merges a shrunken sub-room into one of the same ISP; rejoins and the source shard follow', async () => {
    await fakeShard('a');
    await fakeShard('b');
    const merging = new RedisPlacement({
      redis,
      log: silentLogger(),
      splitThreshold: 8,
      pendingMs: 10_000,
      graceMs: 5_000,
      refreshMs: 60_000,
      now: () => clock,
    });
    try {
      await merging.refresh();
      for (let i = 0; i < 17; i++) await merging.assign({ channel: 'shrink', peerId: peer() });
      expect(Object.keys(await redis.hgetall('swarmcast:room:shrink:subs')).sort()).toEqual([
        's0',
        's1',
        's2',
      ]);
      // Young sub-rooms are left alone, whatever their counts.
      await report('shrink', 's0', (await redis.hget('swarmcast:room:shrink:subs', 's0'))!, 3, { x: 3 });
      await report('shrink', 's1', (await redis.hget('swarmcast:room:shrink:subs', 's1'))!, 2, { y: 2 });
      await report('shrink', 's2', (await redis.hget('swarmcast:room:shrink:subs', 's2'))!, 1, { y: 1 });
      expect(await merging.mergeTick()).toEqual([]);
      clock += 20_000;
      // s2 (1 viewer) goes to s1, which shares its ISP; s1 is then a target, not moved too.
      const merges = await merging.mergeTick();
      expect(merges).toEqual([{ channel: 'shrink', from: 's2', into: 's1', viewers: 1 }]);
      expect(Object.keys(await redis.hgetall('swarmcast:room:shrink:subs')).sort()).toEqual(['s0', 's1']);
      expect(await redis.hget('swarmcast:room:shrink:merged', 's2')).toBe('s1');
      const subsOnShards = (await redis.hvals('swarmcast:shard-subs')).map(Number);
      expect(subsOnShards.reduce((a, b) => a + b, 0)).toBe(2);
      // Applying a stale plan again does nothing (another COM got there first).
      const script = redis as unknown as { swarmcastMerge(...a: string[]): Promise<number> };
      expect(await script.swarmcastMerge('[]', 'shrink', 's2', 's1')).toBe(0);
      await report('shrink', 's1', (await redis.hget('swarmcast:room:shrink:subs', 's1'))!, 3, { y: 3 });
      // The moved viewer's rejoin names s2 and lands in s1; a newcomer never opens s2 again.
      expect(await merging.assign({ channel: 'shrink', peerId: peer(), prefer: 's2' })).toMatchObject({
        subRoom: 's1',
        created: false,
      });
      // Next round: s1 (4 with the pending rejoin) and s0 (3) fit in one (7 > 6: not yet).
      expect(await merging.mergeTick()).toEqual([]);
    } finally {
      merging.close();
    }
  });

  it('two COMs racing on one room never overfill a sub-room', async () => {
    await fakeShard('a');
    await fakeShard('b');
    const other = new Redis(redisServer.url);
    const second = new RedisPlacement({
      redis: other,
      log: silentLogger(),
      splitThreshold: 3,
      pendingMs: 10_000,
      refreshMs: 60_000,
      now: () => clock,
    });
    try {
      await placement.refresh();
      await second.refresh();
      const all = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? placement : second).assign({ channel: 'race', peerId: peer() }),
        ),
      );
      const count = new Map<string, number>();
      for (const p of all) count.set(p!.subRoom, (count.get(p!.subRoom) ?? 0) + 1);
      expect([...count.values()]).toEqual(Array(10).fill(3));
      expect(all.filter((p) => p!.created)).toHaveLength(10);
      const onShard = await redis.hvals('swarmcast:room:race:subs');
      expect(onShard.filter((s) => s === 'a').length).toBe(5);
    } finally {
      second.close();
      other.disconnect();
    }
  });
});

async function info(base: string, query = ''): Promise<ComChannelInfo> {
  const res = await fetch(`${base}/api/channels/demo${query}`);
  expect(res.status).toBe(200);
  return channelInfoSchema.parse(await res.json());
}

describe('two COMs and two shards (one a swarmcast tracker process)', () => {
  const coms: RunningServer[] = [];
  let shard: RunningShard;
  let proc: RunningCommand;
  const clients: TrackerClient[] = [];
  beforeAll(async () => {
    await redis.flushall();
    const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-shards-'));
    for (let i = 0; i < 2; i++) {
      coms.push(
        await startServer({
          httpPort: 0,
          rtmpPort: null,
          stunPort: null,
          dataDir,
          log: silentLogger(),
          redis: { url: redisServer.url },
          subRoomSize: 2,
          registryRefreshMs: 100,
        }),
      );
    }
    // Both sign with the one key from the shared data folder (and both run the demo channel).
    const key = coms[0]!.origin.publicKey;
    expect(coms[1]!.origin.publicKey).toBe(key);
    shard = await startShard({
      host: '127.0.0.1',
      port: 0,
      id: 'inproc',
      redis: { url: redisServer.url },
      ticketKey: ticketKey(key),
      registryPeriodMs: 200,
      log: silentLogger(),
    });
    proc = runSwarmcast(trackerShardArgs(redisServer.url, key, 'proc'));
    await until(() => proc.lines.some((l) => l.event === 'ready'), 20_000, 'swarmcast tracker ready');
    // Both COMs must see both shards (each re-reads the registry every 100 ms).
    await until(
      async () => {
        for (const c of coms) {
          const text = await (await fetch(`${c.httpUrl}/metrics`)).text();
          if (!/^swarmcast_tracker_shards_live 2$/m.test(text)) return false;
        }
        return true;
      },
      10_000,
      'both shards registered and seen by both COMs',
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    proc?.child.kill('SIGTERM');
    await proc?.exited;
    await shard?.close();
    for (const c of coms) await c.close();
  });

  it('prints a ready line and registers', () => {
    const ready = proc.lines.find((l) => l.event === 'ready')!;
    expect(ready).toMatchObject({ event: 'ready', id: 'proc' });
    expect(String(ready.tracker)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/tracker$/);
  });

  it('both COMs fill the same sub-rooms, on both shards, and viewers join with their tickets', async () => {
    const bases = coms.map((c) => c.httpUrl);
    const got: ComChannelInfo[] = [];
    for (let i = 0; i < 6; i++) got.push(await info(bases[i % 2]!));
    expect(got.map((g) => g.tracker.subRoom)).toEqual(['s0', 's0', 's1', 's1', 's2', 's2']);
    const urls = new Set(got.map((g) => g.tracker.url));
    expect(urls.size).toBe(2);
    expect(got[0]!.tracker.url).not.toBe(got[2]!.tracker.url);
    expect(got[0]!.rejoinUrl).toBe(`${bases[0]}/api/channels/demo/rejoin`);
    for (const g of got) clients.push(trackerClientFor(g));
    await Promise.all(clients.map((c) => c.connect()));
    // The shards report their members; a newcomer then finds every sub-room full.
    await until(
      async () => {
        const occ = await redis.hvals('swarmcast:room:demo:occ');
        return occ.map((o) => JSON.parse(o).v as number).reduce((a, b) => a + b, 0) === 6;
      },
      10_000,
      'occupancy reported',
    );
    expect(await redis.zcard('swarmcast:room:demo:pend:s0')).toBe(0);
    // The channel list counts viewers on every shard (the other COM's list too).
    await until(
      async () => {
        const res = await fetch(`${bases[1]}/api/channels`);
        const list = (await res.json()) as { channels: Array<{ id?: string; viewers?: number }> };
        return list.channels.some((c) => c.viewers === 6);
      },
      10_000,
      'viewer count in the channel list',
    );
    expect((await info(bases[1]!)).tracker.subRoom).toBe('s3');
    // Metrics: the COM counts live shards, each shard its members.
    const comMetrics = await (await fetch(`${bases[0]}/metrics`)).text();
    expect(comMetrics).toMatch(/^swarmcast_tracker_shards_live 2$/m);
    const shardMetrics = await (await fetch(`http://127.0.0.1:${shard.port}/metrics`)).text();
    expect(shardMetrics).toMatch(/^swarmcast_tracker_members\{channel="demo",role="viewer"\} [1-9]/m);
    const neighbours = await clients[0]!.neighbours(4);
    expect(neighbours.map((p) => p.peerId)).toEqual([got[1]!.peer.id]);
  });

  it('a rejoin keeps the peer id and the sub-room', async () => {
    const first = await info(coms[0]!.httpUrl);
    const res = await fetch(first.rejoinUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: first.peer.ticket }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tracker: { subRoom: string; url: string }; peer: { id: string } };
    expect(body.peer.id).toBe(first.peer.id);
    // The same tracker and sub-room (the first answer also counts the sub-room's viewers).
    expect(first.tracker).toMatchObject(body.tracker);
    expect(first.tracker.viewers).toBeGreaterThanOrEqual(1);
    const bad = await fetch(first.rejoinUrl!, { method: 'POST', body: JSON.stringify({ ticket: 'a.b' }) });
    expect(bad.status).toBe(403);
    const junk = await fetch(first.rejoinUrl!, { method: 'POST', body: 'nope' });
    expect(junk.status).toBe(400);
  });
});

describe('a shard lets go of sub-rooms placed elsewhere', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const signer = signerFromKey(privateKey);
  const startTestShard = (id: string) =>
    startShard({
      host: '127.0.0.1',
      port: 0,
      id,
      redis: { url: redisServer.url },
      ticketKey: ticketKey(signer.publicKey),
      registryPeriodMs: 100,
      log: silentLogger(),
    });
  const member = (url: string, subRoom: string, n: number) => {
    const peerId = `member${subRoom}${String(n).padStart(10, '0')}`;
    const ticket = mintTicket(signer, {
      c: 'demo',
      s: subRoom,
      p: peerId,
      r: 'viewer',
      e: Date.now() + 60_000,
    });
    // No reconnect within the test: a disconnected member stays out.
    return new TrackerClient({
      url,
      channel: 'demo',
      subRoom,
      peerId,
      role: 'viewer',
      ticket,
      log: memoryLog(),
      reconnectMinMs: 60_000,
      reconnectMaxMs: 60_000,
    });
  };

  it('after its registration expired: the sub-rooms that moved elsewhere go, the others stay', async () => {
    await redis.flushall();
    const shard = await startTestShard('slow');
    const moved = [member(shard.url, 'a', 1), member(shard.url, 'a', 2)];
    const kept = [member(shard.url, 'b', 1)];
    try {
      await Promise.all([...moved, ...kept].map((c) => c.connect()));
      await redis.hset('swarmcast:room:demo:subs', 'a', 'elsewhere', 'b', 'slow');
      const flushes = shard.agent.flushes;
      await redis.del(shardKey('slow'));
      await until(() => shard.agent.flushes > flushes + 1, 5000, 'the shard registered again');
      await until(() => moved.every((c) => !c.connected), 5000, 'members of the moved sub-room sent away');
      expect(kept.every((c) => c.connected)).toBe(true);
      expect(await redis.exists(shardKey('slow'))).toBe(1);
    } finally {
      await Promise.all([...moved, ...kept].map((c) => c.close()));
      await shard.close();
    }
  });

  it('a sub-room a COM merged away: its members are sent to rejoin at the next flush', async () => {
    await redis.flushall();
    const shard = await startTestShard('live');
    const merged = [member(shard.url, 'c', 1), member(shard.url, 'c', 2)];
    const kept = [member(shard.url, 'd', 1)];
    // A sub-room nobody placed (no record either way) is not touched.
    const unplaced = [member(shard.url, 'e', 1)];
    const all = [...merged, ...kept, ...unplaced];
    try {
      await redis.hset('swarmcast:room:demo:subs', 'c', 'live', 'd', 'live');
      await Promise.all(all.map((c) => c.connect()));
      const flushes = shard.agent.flushes;
      await until(() => shard.agent.flushes > flushes + 1, 5000, 'flushes');
      expect(all.every((c) => c.connected)).toBe(true);
      await redis.hdel('swarmcast:room:demo:subs', 'c');
      await redis.hset('swarmcast:room:demo:merged', 'c', 'd');
      await until(() => merged.every((c) => !c.connected), 5000, 'members of the merged sub-room sent away');
      expect([...kept, ...unplaced].every((c) => c.connected)).toBe(true);
    } finally {
      await Promise.all(all.map((c) => c.close()));
      await shard.close();
    }
  });
});

describe('settings for shards, Redis and ISP lookup', () => {
  const resolve = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) => {
    const r = resolveServerConfig({
      argv,
      env,
      readFile: (p) => {
        if (!(p in files)) throw new Error(`ENOENT ${p}`);
        return files[p]!;
      },
      homeDir: '/home/x',
    });
    if (r.help) throw new Error('help');
    return r.config;
  };

  it('takes --redis, the Redis password only from the environment, --geo-db and the prefix table', () => {
    const c = resolve(
      ['--redis', 'redis://10.0.0.5:6379', '--geo-db', 'asn.mmdb', '--config', '/etc/sc/server.yaml'],
      { SWARMCAST_REDIS_PASSWORD: 'pw' },
      {
        '/etc/sc/server.yaml':
          'geoDbs: [city.mmdb]\nispPrefixes:\n  "10.0.0.0/8": { isp: corp, region: hq }\n',
      },
    );
    expect(c).toMatchObject({ redis: 'redis://10.0.0.5:6379', redisPassword: 'pw', geoDbs: ['asn.mmdb'] });
    expect(c.ispPrefixes).toEqual({ '10.0.0.0/8': { isp: 'corp', region: 'hq' } });
    const opts = toServerOptions(c, silentLogger());
    expect(opts.redis).toEqual({ url: 'redis://10.0.0.5:6379', password: 'pw' });
    // Relative database paths in the file are relative to the file.
    expect(
      resolve(['--config', '/etc/sc/server.yaml'], {}, { '/etc/sc/server.yaml': 'geoDbs: [city.mmdb]\n' })
        .geoDbs,
    ).toEqual(['/etc/sc/city.mmdb']);
    expect(() => resolve(['--redis-password', 'x'])).toThrow();
    expect(() => resolve(['--redis', 'http://nope'])).toThrow(/redis/);
    expect(() => resolve([], { SWARMCAST_ISP_PREFIXES: '{"10.0.0.0/8": {}}' })).toThrow(/ispPrefixes/);
    expect(resolve([], { SWARMCAST_ISP_PREFIXES: '{"10.0.0.0/8": {"isp": "a"}}' }).ispPrefixes).toEqual({
      '10.0.0.0/8': { isp: 'a' },
    });
  });

  it('reads the ticket key as base64 SPKI or PEM, and refuses anything else', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const b64 = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(loadTicketKey(b64, undefined).asymmetricKeyType).toBe('ed25519');
    expect(loadTicketKey(undefined, '/k.pem', (() => pem) as never).asymmetricKeyType).toBe('ed25519');
    expect(() => loadTicketKey(undefined, undefined)).toThrow(/ticket/);
    expect(() => loadTicketKey('AAAA', undefined)).toThrow(/Ed25519/);
  });
});
