/**
 * Sub-rooms merged when they shrink, end to end: viewers placed by the COM, joined to their
 * tracker with their tickets and a COM rejoin route (as the app's swarm does). When most of one
 * sub-room leaves and another is small, the small one is folded in: its members are sent away by
 * its tracker, rejoin through the COM with their old ticket and land in the merged-into
 * sub-room, where they find its members as neighbours. Once in one server (no Redis: the
 * embedded tracker) and once with a tracker shard and Redis (the COM's merge goes through Redis,
 * the shard sees it at its next flush).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoSchema } from '../common/com';
import { rejoinThrough } from '../main/p2p/swarm';
import type { TrackerClient } from '../main/p2p/tracker-client';
import { ticketKey } from '../server/com/join-ticket';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import { type RunningShard, startShard } from '../server/tracker/run-shard';
import type { SubRoomOccupancy } from '../server/tracker/tracker';
import { until } from './support/media';
import { type RunningRedis, startRedis } from './support/redis';
import { trackerClientFor } from './support/tracker-join';

describe.each([{ redis: false }, { redis: true }])('a shrinking room (redis: $redis)', ({ redis }) => {
  let server: RunningServer;
  let redisServer: RunningRedis | null = null;
  let shard: RunningShard | null = null;
  const clients: TrackerClient[] = [];
  beforeAll(async () => {
    redisServer = redis ? await startRedis() : null;
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-merge-')),
      subRoomSize: 8,
      mergeCheckMs: 100,
      mergeGraceMs: 0,
      ...(redisServer ? { redis: { url: redisServer.url }, registryRefreshMs: 100 } : {}),
      log: silentLogger(),
    });
    if (redisServer) {
      shard = await startShard({
        host: '127.0.0.1',
        port: 0,
        id: 'm',
        redis: { url: redisServer.url },
        ticketKey: ticketKey(server.origin.publicKey),
        registryPeriodMs: 100,
        log: silentLogger(),
      });
      await until(
        async () =>
          /^swarmcast_tracker_shards_live 1$/m.test(await (await fetch(`${server.httpUrl}/metrics`)).text()),
        5000,
        'the COM sees the shard',
      );
    }
  }, 30_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await shard?.close();
    await server?.close();
    await redisServer?.stop();
  });

  const occupancy = (): ReadonlyMap<string, SubRoomOccupancy> =>
    (shard?.tracker ?? server.tracker).occupancy('demo');

  async function enter(): Promise<{ info: ComChannelInfo; client: TrackerClient }> {
    const res = await fetch(`${server.httpUrl}/api/channels/demo`);
    const info = channelInfoSchema.parse(await res.json());
    const client = trackerClientFor(info, {
      reroute: rejoinThrough(info.rejoinUrl!, info.peer.id),
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
    });
    clients.push(client);
    await client.connect();
    return { info, client };
  }

  it('folds the small sub-room into the other; its members rejoin there through the COM', async () => {
    const joined = [];
    for (let i = 0; i < 9; i++) joined.push(await enter());
    expect(joined.map((j) => j.info.tracker.subRoom)).toEqual([...Array(8).fill('s0'), 's1']);
    if (shard) expect(joined[0]!.info.tracker.url).toBe(shard.url);
    const lone = joined[8]!;
    // Both sub-rooms are well filled or just opened: nothing merges yet.
    await new Promise((r) => setTimeout(r, 500));
    expect(server.com.merges).toBe(0);
    expect(lone.client.current.subRoom).toBe('s1');

    // Six of s0 leave: s0 keeps 2, s1 has 1 (under a quarter of 8) and both fit in one.
    for (const j of joined.slice(0, 6)) await j.client.close();
    await until(() => server.com.merges === 1, 15_000, 's1 merged');
    await until(
      () => lone.client.current.subRoom === 's0' && lone.client.connected,
      10_000,
      'the lone viewer rejoined in s0',
    );
    await until(() => occupancy().get('s0')?.viewers === 3, 10_000, 's0 counts the moved viewer');
    expect(occupancy().has('s1')).toBe(false);
    // Same peer id, and the members of s0 are its neighbours now.
    const neighbours = await lone.client.neighbours(8);
    const stayed = joined.slice(6, 8).map((j) => j.info.peer.id);
    expect(neighbours.map((p) => p.peerId).sort()).toEqual(stayed.sort());
    // A late rejoin naming s1 follows the merge; a newcomer goes to s0 too.
    const late = await fetch(lone.info.rejoinUrl!, {
      method: 'POST',
      body: JSON.stringify({ ticket: lone.info.peer.ticket }),
    });
    expect(((await late.json()) as { tracker: { subRoom: string } }).tracker.subRoom).toBe('s0');
    expect((await enter()).info.tracker.subRoom).toBe('s0');
  });
});
