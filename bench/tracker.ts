/**
 * `npm run bench:tracker`: real WebSocket clients joining one room, first over 2 tracker shards
 * (`swarmcast tracker` processes) coordinated through Redis, then, in the same run, over the one
 * tracker embedded in `swarmcast server` without Redis (the baseline, figures prefixed
 * `single_`).
 *
 * Each client does what a viewer does: GET /api/channels/demo from the COM (a peer id, a signed
 * join ticket, the tracker of its sub-room), opens a WebSocket to that tracker, joins with the
 * ticket (common/tracker-protocol.ts), asks for 8 neighbours, then stays, sending a heartbeat
 * every 5 s. `--workers` clients are in flight at once.
 *
 * clients             clients that joined (all of them, or the run fails)
 * joins_per_s         clients / wall time from the first COM request to the last welcome
 * neighbours_ms_p50/99  time from the neighbours request to its answer
 * kb_per_member       growth of the tracker processes' RSS (shards; the server in the baseline,
 *                     its COM included) per member, all joined
 * redis_ops_per_join  commands Redis ran during the joins (INFO commandstats; script calls
 *                     count their inner commands), per join; registry heartbeats included
 *
 *   npm run bench:tracker -- [--clients 10000] [--sub-room-size 1000] [--workers 200] [--no-save]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { channelInfoSchema } from '../common/com';
import { encodeMessage, parseServerMessage } from '../common/tracker-protocol';
import { until } from '../test/support/media';
import { type RunningCommand, runSwarmcast, trackerShardArgs } from '../test/support/processes';
import { type RunningRedis, startRedis } from '../test/support/redis';
import { type Figures, percentile, printLine, round, writeSummary } from './report';

const HEARTBEAT_MS = 5000;

interface Client {
  ws: WebSocket;
  timer: NodeJS.Timeout;
}

interface Phase {
  clients: number;
  joinsPerS: number;
  neighboursMs: number[];
  comMs: number[];
  rssKbBefore: number;
  rssKbAfter: number;
  redisOps: number | null;
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

async function ready(proc: RunningCommand, what: string): Promise<Record<string, unknown>> {
  const line = () => proc.lines.find((l) => l.event === 'ready');
  await until(() => line() !== undefined || proc.child.exitCode !== null, 60_000, what);
  const found = line();
  if (!found) throw new Error(`${what} exited: ${proc.stderr.join('').slice(0, 2000)}`);
  return found;
}

/** One viewer's join: COM, WebSocket, join with the ticket, welcome, neighbours. */
async function joinOne(
  base: string,
  clients: Client[],
  neighboursMs: number[],
  comMs: number[],
): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/channels/demo`);
  if (!res.ok) throw new Error(`COM answered ${res.status}`);
  const info = channelInfoSchema.parse(await res.json());
  comMs.push(performance.now() - t0);
  const ws = new WebSocket(info.tracker.url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    let asked = 0;
    const fail = (why: string) => {
      ws.terminate();
      reject(new Error(why));
    };
    ws.once('error', (err) => fail(err.message));
    ws.once('close', (code) => fail(`closed ${code}`));
    ws.on('open', () =>
      ws.send(
        encodeMessage({
          type: 'join',
          channel: 'demo',
          subRoom: info.tracker.subRoom,
          peerId: info.peer.id,
          role: info.peer.role,
          ticket: info.peer.ticket,
        }),
      ),
    );
    ws.on('message', (data: Buffer) => {
      const parsed = parseServerMessage(data);
      if (!parsed.ok) return fail(parsed.error);
      const msg = parsed.message;
      if (msg.type === 'welcome') {
        asked = performance.now();
        ws.send(encodeMessage({ type: 'neighbours', want: 8 }));
      } else if (msg.type === 'neighbours' && asked > 0) {
        neighboursMs.push(performance.now() - asked);
        asked = 0;
        ws.removeAllListeners('close');
        ws.removeAllListeners('error');
        ws.on('error', () => {});
        const timer = setInterval(() => ws.send(encodeMessage({ type: 'heartbeat' })), HEARTBEAT_MS);
        clients.push({ ws, timer });
        resolve();
      } else if (msg.type === 'error') {
        fail(`tracker error ${msg.code}: ${msg.message}`);
      }
    });
  });
}

/** `count` joins, `workers` at a time; the clients stay joined until close(). */
async function joinMany(
  base: string,
  count: number,
  workers: number,
  clients: Client[],
  ms: { neighbours: number[]; com: number[] },
) {
  let next = 0;
  const started = performance.now();
  let lastReport = started;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async () => {
      while (next < count) {
        next++;
        await joinOne(base, clients, ms.neighbours, ms.com);
        if (performance.now() - lastReport > 2000) {
          lastReport = performance.now();
          printLine({ joined: clients.length, s: round((lastReport - started) / 1000, 1) });
        }
      }
    }),
  );
}

function closeAll(clients: Client[]): void {
  for (const c of clients.splice(0)) {
    clearInterval(c.timer);
    c.ws.terminate();
  }
}

async function runPhase(
  base: string,
  trackerPids: number[],
  count: number,
  workers: number,
  redis: RunningRedis | null,
): Promise<Phase & { close(): void }> {
  // Warm-up (not measured): the processes' code paths get compiled, connections pooled.
  const warm: Client[] = [];
  await joinMany(base, Math.min(300, Math.ceil(count / 10)), workers, warm, { neighbours: [], com: [] });
  closeAll(warm);
  await new Promise((r) => setTimeout(r, 2000));
  const clients: Client[] = [];
  const neighboursMs: number[] = [];
  const comMs: number[] = [];
  const rssKbBefore = trackerPids.reduce((n, pid) => n + rssKb(pid), 0);
  const opsBefore = redis ? await redis.commandCount() : 0;
  const started = performance.now();
  await joinMany(base, count, workers, clients, { neighbours: neighboursMs, com: comMs });
  const wall = (performance.now() - started) / 1000;
  const redisOps = redis ? (await redis.commandCount()) - opsBefore : null;
  // Let the trackers settle (registry flushes, garbage collection) before reading memory.
  await new Promise((r) => setTimeout(r, 2000));
  const rssKbAfter = trackerPids.reduce((n, pid) => n + rssKb(pid), 0);
  return {
    clients: clients.length,
    joinsPerS: clients.length / wall,
    neighboursMs,
    comMs,
    rssKbBefore,
    rssKbAfter,
    redisOps,
    close: () => closeAll(clients),
  };
}

function figures(p: Phase, prefix: string): Figures {
  const out: Figures = {
    clients: p.clients,
    joins_per_s: round(p.joinsPerS, 0),
    neighbours_ms_p50: round(percentile(p.neighboursMs, 50), 1),
    neighbours_ms_p99: round(percentile(p.neighboursMs, 99), 1),
    kb_per_member: round((p.rssKbAfter - p.rssKbBefore) / p.clients, 2),
    com_ms_p50: round(percentile(p.comMs, 50), 1),
  };
  if (p.redisOps !== null) out.redis_ops_per_join = round(p.redisOps / p.clients, 2);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [`${prefix}${k}`, v]));
}

const serverArgs = (dataDir: string, subRoomSize: number) => [
  'server',
  '--host',
  '127.0.0.1',
  '--http-port',
  '0',
  '--no-rtmp',
  '--no-stun',
  '--no-logs',
  '--no-metrics',
  '--data',
  dataDir,
  '--sub-room-size',
  String(subRoomSize),
];

async function stop(proc: RunningCommand): Promise<void> {
  if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '10000' },
      'sub-room-size': { type: 'string', default: '1000' },
      workers: { type: 'string', default: '200' },
      'no-save': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.clients);
  const subRoomSize = Number(values['sub-room-size']);
  const workers = Math.min(count, Number(values.workers));
  const dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-bench-tracker-'));
  const env = { SWARMCAST_LOG_LEVEL: 'error' };
  const procs: RunningCommand[] = [];
  let redis: RunningRedis | null = null;
  try {
    // 1. Two shards and Redis.
    redis = await startRedis();
    const com = runSwarmcast([...serverArgs(dataDir, subRoomSize), '--redis', redis.url], env);
    procs.push(com);
    const comReady = await ready(com, 'server (COM)');
    const shards = ['a', 'b'].map((id) =>
      runSwarmcast(trackerShardArgs(redis!.url, String(comReady.publicKey), `bench-${id}`), {
        SWARMCAST_LOG_LEVEL: 'warn',
      }),
    );
    procs.push(...shards);
    // A shard's warnings (a registration that expired under load) are worth seeing.
    for (const s of shards) {
      s.child.stderr!.on('data', (d: Buffer) => {
        for (const line of d.toString().split('\n'))
          if (line.includes('"level":40')) process.stderr.write(`${line}\n`);
      });
    }
    for (const s of shards) await ready(s, 'swarmcast tracker');
    // The COM re-reads the registry every 500 ms.
    await new Promise((r) => setTimeout(r, 1500));
    const sharded = await runPhase(
      String(comReady.http),
      shards.map((s) => s.child.pid!),
      count,
      workers,
      redis,
    );
    const shardedFigures = figures(sharded, '');
    printLine({ phase: 'sharded', ...shardedFigures });
    sharded.close();
    for (const p of procs.splice(0)) await stop(p);
    await redis.stop();
    redis = null;

    // 2. The baseline: one server, its embedded tracker, no Redis.
    const single = runSwarmcast(serverArgs(dataDir, subRoomSize), env);
    procs.push(single);
    const singleReady = await ready(single, 'server (single)');
    const one = await runPhase(String(singleReady.http), [single.child.pid!], count, workers, null);
    const singleFigures = figures(one, 'single_');
    printLine({ phase: 'single', ...singleFigures });
    one.close();

    const all = { ...shardedFigures, ...singleFigures, sub_room_size: subRoomSize, workers };
    for (const [k, v] of Object.entries(all)) process.stderr.write(`${k} ${v}\n`);
    await writeSummary('tracker', all, !values['no-save']);
  } finally {
    for (const p of procs) await stop(p);
    await redis?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
