/**
 * NAT traversal between real `swarmcast peer` processes, each behind its own NAT router in a
 * network namespace (test/support/netns.ts; the topology of ../shared/testing/nat-topology.sh).
 * The server (origin, COM, tracker, STUN) and, when needed, coturn run in the "public"
 * namespace on 100.64.0.1; viewer A (--low-latency: everything from the CDN at once, and it
 * uploads to neighbours who ask) sits behind router A, viewer B (normal mode: waits for peers,
 * goes to the CDN near the deadline) behind router B. With exactly these two viewers, B's
 * bytes_p2p can only have come from A, across both NATs.
 *
 * How the path is told apart: the peers' host addresses (100.100.x.2) are not routable from
 * the public namespace (its default route ends in a namespace that drops everything), so data
 * between A and B either goes router-WAN to router-WAN (a server-reflexive pair; counted by
 * iptables in the public namespace as "direct") or through coturn's port (counted as "turn").
 *
 * Each case builds its own namespaces (unique `sct_…` names) and removes them afterwards,
 * also on failure. Needs root, iproute2, iptables and coturn (CI's .ci/run installs them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type LabCounters, NatLab, type NatMode, natLabUnavailable, PUBLIC_IP } from './support/netns';
import type { RunningCommand } from './support/processes';

const HTTP_PORT = 18080;
const STUN_PORT = 3478;
const TURN_PORT = 3479;
const SERVER_URL = `http://${PUBLIC_IP}:${HTTP_PORT}`;
/** How long B watches; A starts a little earlier so that it holds segments when B joins. */
const WATCH_S = 16;
const A_HEAD_START_LINES = 3;
/** The FLV header and init tags a player receives come from the init data, not from segments. */
const INIT_SLACK_BYTES = 16 * 1024;
/** Failed connectivity checks between the routers are a few kB; segment data is megabytes. */
const CHECKS_ONLY_BYTES = 64 * 1024;

const unavailable = natLabUnavailable(['ip', 'iptables', 'turnserver']);
if (unavailable) console.warn(`nat-traversal.test.ts skipped: ${unavailable}`);

async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  diag: () => string = () => '',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diag()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tail(cmd: RunningCommand, n = 3000): string {
  return cmd.stderr.join('').slice(-n);
}

interface CaseResult {
  a: Record<string, unknown>;
  b: Record<string, unknown>;
  counters: LabCounters;
  /** Everything printed, for failure messages. */
  report: string;
}

const tempDirs: string[] = [];
let lab: NatLab | null = null;

async function startTurn(l: NatLab): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sct-turn-'));
  tempDirs.push(dir);
  const turn = l.spawnIn(l.ns.pub, 'turnserver', [
    '-n',
    `--listening-ip=${PUBLIC_IP}`,
    `--listening-port=${TURN_PORT}`,
    `--relay-ip=${PUBLIC_IP}`,
    '--min-port=50000',
    '--max-port=50999',
    '--lt-cred-mech',
    '--user=u:p',
    '--realm=swarmcast',
    '--fingerprint',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    `--userdb=${join(dir, 'turndb')}`,
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    '--log-file=stdout',
    '--simple-log',
  ]);
  let out = '';
  turn.stdout!.on('data', (d: Buffer) => {
    if (out.length < 20_000) out += d.toString();
  });
  turn.stderr!.on('data', (d: Buffer) => {
    if (out.length < 20_000) out += d.toString();
  });
  await until(
    async () => {
      if (turn.exitCode !== null) throw new Error(`turnserver exited (${turn.exitCode}):\n${out}`);
      return l.udpListening(l.ns.pub, TURN_PORT);
    },
    10_000,
    'coturn listening',
    () => out,
  );
}

/** One case: a fresh lab, the server (with or without TURN in channel info), then A and B. */
async function runCase(mode: NatMode, withTurn: boolean): Promise<CaseResult> {
  lab = await NatLab.create({ natA: mode, natB: mode, turnPort: TURN_PORT });
  const l = lab;
  if (withTurn) await startTurn(l);
  const data = await mkdtemp(join(tmpdir(), 'sct-server-'));
  tempDirs.push(data);
  const server = l.swarmcast(
    l.ns.pub,
    [
      'server',
      '--host',
      PUBLIC_IP,
      '--http-port',
      String(HTTP_PORT),
      '--no-rtmp',
      '--stun-port',
      String(STUN_PORT),
      '--public-url',
      SERVER_URL,
      '--data',
      data,
      ...(withTurn ? ['--turn', `turn:${PUBLIC_IP}:${TURN_PORT}?transport=udp`, '--turn-user', 'u'] : []),
    ],
    // The TURN password is a secret: env, never a flag (server/config.ts).
    { SWARMCAST_LOG_LEVEL: 'info', ...(withTurn ? { SWARMCAST_TURN_PASSWORD: 'p' } : {}) },
  );
  await until(
    () => {
      if (server.child.exitCode !== null) throw new Error(`server exited:\n${tail(server)}`);
      return server.lines.some((x) => x.event === 'ready');
    },
    25_000,
    'server ready',
    () => `stdout: ${JSON.stringify(server.lines)}\nstderr: ${tail(server)}`,
  );
  await l.resetCounters();
  const a = l.swarmcast(l.ns.peerA, [
    'peer',
    '--server',
    SERVER_URL,
    '--channel',
    'demo',
    '--low-latency',
    '--duration',
    String(WATCH_S + A_HEAD_START_LINES),
  ]);
  await until(
    () => {
      if (a.child.exitCode !== null) throw new Error(`viewer A exited:\n${tail(a)}`);
      return a.lines.filter((x) => x.state === 'live').length >= A_HEAD_START_LINES;
    },
    15_000,
    'viewer A live',
    () => `stdout: ${JSON.stringify(a.lines)}\nstderr: ${tail(a)}`,
  );
  const b = l.swarmcast(l.ns.peerB, [
    'peer',
    '--server',
    SERVER_URL,
    '--channel',
    'demo',
    '--duration',
    String(WATCH_S),
  ]);
  let timer: NodeJS.Timeout | undefined;
  const [codeA, codeB] = await Promise.race([
    Promise.all([a.exited, b.exited]),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`viewers still running ${WATCH_S + 15} s after B started`)),
        (WATCH_S + 15) * 1000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const counters = await l.counters();
  const report = [
    `mode=${mode} turn=${withTurn} counters=${JSON.stringify(counters)} exit A=${codeA} B=${codeB}`,
    `A lines:\n${a.lines.map((x) => JSON.stringify(x)).join('\n')}`,
    `A stderr:\n${tail(a)}`,
    `B lines:\n${b.lines.map((x) => JSON.stringify(x)).join('\n')}`,
    `B stderr:\n${tail(b)}`,
    `server stderr:\n${tail(server)}`,
  ].join('\n');
  expect(codeA, report).toBe(0);
  expect(codeB, report).toBe(0);
  return { a: a.last() ?? {}, b: b.last() ?? {}, counters, report };
}

/**
 * Played to the end. What this file checks is the path between viewers; stall-freedom is
 * bench:swarm's. With Chromium tests beside it on two cores, a frame may come late once, so a
 * blip (≤ 2 stalls, < 0.5 s in all) is tolerated, a real stall is not.
 */
function expectPlayedWell(name: string, last: Record<string, unknown>, report: string): void {
  const msg = `viewer ${name}\n${report}`;
  expect(last.state, msg).toBe('live');
  expect(typeof last.ttff_ms, msg).toBe('number');
  expect(Number(last.stalls), msg).toBeLessThanOrEqual(2);
  expect(Number(last.stall_s), msg).toBeLessThan(0.5);
  // ~130 kB/s of demo stream for WATCH_S seconds (at least half of it, allowing start-up).
  expect(Number(last.bytes_played), msg).toBeGreaterThan((WATCH_S / 2) * 100_000);
  expect(Number(last.t), msg).toBeGreaterThanOrEqual(WATCH_S - 1);
}

// Timing on shaped links beside other test files on two cores: a run that lost the CPU is
// tried once more; the assertions stay as they are.
describe.skipIf(unavailable !== null)(
  `NAT traversal between viewers in network namespaces${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  { retry: 1 },
  () => {
    afterEach(async () => {
      await lab?.destroy();
      lab = null;
    });

    afterAll(async () => {
      await lab?.destroy();
      lab = null;
      await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    });

    it('cone↔cone: viewers exchange segments directly over their server-reflexive addresses', async () => {
      const { a, b, counters, report } = await runCase('cone', false);
      expectPlayedWell('A', a, report);
      expectPlayedWell('B', b, report);
      expect(Number(b.bytes_p2p), report).toBeGreaterThan(0);
      expect(Number(a.bytes_up), report).toBeGreaterThan(0);
      // The segments crossed from router A's WAN address to router B's (no relay exists here,
      // host addresses are unroutable): a srflx↔srflx pair.
      expect(counters.directBytes, report).toBeGreaterThanOrEqual(Number(b.bytes_p2p));
      expect(counters.turnBytes, report).toBe(0);
    }, 60_000);

    it('symmetric↔symmetric with TURN in channel info: viewers exchange segments through coturn', async () => {
      const { a, b, counters, report } = await runCase('symmetric', true);
      expectPlayedWell('A', a, report);
      expectPlayedWell('B', b, report);
      expect(Number(b.bytes_p2p), report).toBeGreaterThan(0);
      // Every byte from A to B passed coturn's port once (A→relay or relay→B)…
      expect(counters.turnBytes, report).toBeGreaterThanOrEqual(Number(b.bytes_p2p));
      // …and between the routers only connectivity checks went, which symmetric NATs drop.
      expect(counters.directBytes, report).toBeLessThan(CHECKS_ONLY_BYTES);
    }, 60_000);

    it('symmetric↔symmetric without TURN: no path between viewers, both play from the CDN', async () => {
      const { a, b, counters, report } = await runCase('symmetric', false);
      expectPlayedWell('A', a, report);
      expectPlayedWell('B', b, report);
      // No path exists (each NAT maps a new port per destination and drops unsolicited input).
      expect(Number(b.bytes_p2p), report).toBe(0);
      expect(Number(a.bytes_up), report).toBe(0);
      expect(counters.directBytes, report).toBeLessThan(CHECKS_ONLY_BYTES);
      // The CDN delivered everything B played.
      expect(Number(b.bytes_cdn), report).toBeGreaterThanOrEqual(Number(b.bytes_played) - INIT_SLACK_BYTES);
    }, 60_000);
  },
);
