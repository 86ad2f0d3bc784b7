/**
 * Hostile neighbours on loopback: one `swarmcast server` (origin, COM, tracker, STUN; demo
 * channel), one seed and three honest `swarmcast peer` viewers, each a process of its own (so
 * the hostile peers, in this process, slow down nothing but themselves), and hostile peers
 * (test/support/hostile-peer.ts) in the same sub-room. Two rounds, four behaviours at once in
 * each: neighbours that lie about sizes or stall their transfers (oversize, withhold, silent,
 * trickle), and neighbours that game the swarm's trust (fake-seed, forged-acks, have-flood,
 * reconnect). The honest viewers must play on without a stall and keep trading with each
 * other; a neighbour whose lie is provable is banned.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComClient } from '../main/core/manifest/com-client';
import {
  type HostileBehaviour,
  type HostileCounts,
  type HostilePeer,
  startHostilePeers,
} from './support/hostile-peer';
import { until } from './support/media';
import { INFRASTRUCTURE_NICE, type RunningCommand, runSwarmcast } from './support/processes';

const HONEST = 3;
const DURATION_S = 20;

type Line = Record<string, unknown>;

interface Round {
  /** Each honest viewer's stats lines, the last one at exit. */
  viewers: Line[][];
  hostile: HostilePeer[];
  /** Each hostile peer's counts just before the first honest viewer stopped (leaving is not a drop). */
  during: HostileCounts[];
}

let dataDir = '';
let serverUrl = '';
const children: RunningCommand[] = [];

/** Hostile peers of `behaviours` join, then honest viewers play DURATION_S seconds beside them. */
async function round(behaviours: readonly HostileBehaviour[]): Promise<Round> {
  const hostile = await startHostilePeers(serverUrl, 'demo', behaviours);
  let during: HostileCounts[] = [];
  const snapshot = setTimeout(
    () => {
      during = hostile.map((h) => ({ ...h.counts }));
    },
    DURATION_S * 1000 - 500,
  );
  try {
    const viewers: RunningCommand[] = [];
    for (let i = 0; i < HONEST; i++) {
      const args = ['peer', '--server', serverUrl, '--channel', 'demo', '--duration', String(DURATION_S)];
      viewers.push(runSwarmcast(args));
    }
    children.push(...viewers);
    const codes = await Promise.all(viewers.map((v) => v.exited));
    expect(codes, viewers.map((v) => v.stderr.join('')).join('\n')).toEqual(viewers.map(() => 0));
    return { viewers: viewers.map((v) => v.lines), hostile, during };
  } finally {
    clearTimeout(snapshot);
    await Promise.all(hostile.map((h) => h.close()));
  }
}

const last = (lines: Line[]): Line => lines[lines.length - 1] ?? {};
const sum = (r: Round, key: string) => r.viewers.reduce((a, l) => a + Number(last(l)[key] ?? 0), 0);
const peerOf = (r: Round, b: HostileBehaviour) => r.hostile.find((h) => h.behaviour === b)!;
const during = (r: Round, b: HostileBehaviour) => r.during[r.hostile.indexOf(peerOf(r, b))]!;
const finals = (r: Round) => JSON.stringify(r.viewers.map(last));

/** Every honest viewer played to the end without a stall, its stream growing to the end. */
function expectSmoothPlayback(r: Round): void {
  for (const lines of r.viewers) {
    const end = last(lines);
    expect(Number(end.t), JSON.stringify(end)).toBeGreaterThanOrEqual(DURATION_S - 2);
    // On a stall, the lines from three seconds before the first one say what ran short.
    const first = lines.findIndex((l) => Number(l.stalls) > 0);
    const around = first < 0 ? [end] : lines.slice(Math.max(0, first - 3), first + 1);
    expect(end.stalls, around.map((l) => JSON.stringify(l)).join('\n')).toBe(0);
    const mid = lines.find((l) => Number(l.t) >= DURATION_S / 2) ?? {};
    expect(Number(end.bytes_played), JSON.stringify(end)).toBeGreaterThan(Number(mid.bytes_played ?? 0));
    expect(Number(end.latency_s), JSON.stringify(end)).toBeLessThan(6);
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'swarmcast-hostile-'));
  const serverArgs = '--host 127.0.0.1 --http-port 0 --no-rtmp --stun-port 0 --data'.split(' ');
  // The server and the seed stand for machines of their own (INFRASTRUCTURE_NICE): what is
  // tested is how honest viewers fare among hostile ones, not a CDN starved by this box's load.
  const server = runSwarmcast(['server', ...serverArgs, dataDir], {}, INFRASTRUCTURE_NICE);
  children.push(server);
  await until(() => server.lines.some((l) => l.event === 'ready'), 20_000, 'server ready');
  serverUrl = String(server.lines.find((l) => l.event === 'ready')!.http);
  const com = new ComClient(serverUrl);
  const segments = async () =>
    (await com.channelInfo('demo').catch(() => null))?.manifest.segments.length ?? 0;
  await until(async () => (await segments()) >= 5, 15_000, 'demo segments');
  const seed = runSwarmcast(['seed', '--server', serverUrl, '--channel', 'demo'], {}, INFRASTRUCTURE_NICE);
  children.push(seed);
  await until(() => seed.lines.some((l) => l.state === 'live'), 15_000, 'seed live');
});

afterAll(async () => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('neighbours that lie about sizes or stall their transfers', () => {
  let r: Round;
  beforeAll(async () => {
    r = await round(['oversize', 'withhold', 'silent', 'trickle']);
  }, 60_000);

  it('the hostile peers were asked and misbehaved', () => {
    expect(r.during).toHaveLength(r.hostile.length);
    expect(peerOf(r, 'oversize').counts.dataSent).toBeGreaterThan(0);
    expect(peerOf(r, 'withhold').counts.rejectsSent).toBeGreaterThan(0);
    expect(peerOf(r, 'silent').counts.requestsSeen).toBeGreaterThan(0);
    expect(peerOf(r, 'trickle').counts.dataSent).toBeGreaterThan(0);
  });

  it('honest viewers play without a stall', () => expectSmoothPlayback(r));

  it('the peer that claims a 32 MiB segment is banned', () => {
    expect(sum(r, 'peers_banned'), finals(r)).toBeGreaterThan(0);
    const oversize = peerOf(r, 'oversize').counts;
    expect(during(r, 'oversize').dropped).toBeGreaterThan(0);
    // Cut off long before the claimed 32 MiB: what it pushed until the ban reached it is all.
    expect(oversize.bytesSent / oversize.requestsSeen).toBeLessThan(8 * 1024 * 1024);
  });

  it('honest viewers still get bytes from each other, and nothing corrupt', () => {
    expect(sum(r, 'bytes_p2p'), finals(r)).toBeGreaterThan(0);
    expect(sum(r, 'hash_failures')).toBe(0);
  });

  // Refusing one of the newest segments it announced (which an honest peer promises to keep)
  // bans at once; an older one earns a strike, and the second bans. (Silent and trickling neighbours
  // are dropped only after four failed transfers, a few seconds each: within these 20 s in
  // about half the runs — see bench:hostile for what they cost meanwhile.)
  it('a neighbour that refuses segments it announced is dropped', () => {
    expect(during(r, 'withhold').dropped).toBeGreaterThan(0);
  });
});

describe('neighbours that game trust: fake seeds, forged acks, Have floods, new identities', () => {
  let r: Round;
  beforeAll(async () => {
    r = await round(['fake-seed', 'forged-acks', 'have-flood', 'reconnect']);
  }, 60_000);

  it('the hostile peers were linked and misbehaved', () => {
    expect(r.during).toHaveLength(r.hostile.length);
    expect(peerOf(r, 'fake-seed').counts.linksOpened).toBeGreaterThan(0);
    expect(peerOf(r, 'forged-acks').counts.acksForged).toBeGreaterThan(0);
    // Far more than an honest neighbour sends in this round (a Have a segment a second: ~20 a
    // link), however soon it is banned. Not more than 200: linked to one viewer only, a flood is
    // banned once it overdraws that link's announce burst (200, of which its HaveMap took 16),
    // which can be at its 185th Have (a CI run saw exactly 200).
    expect(peerOf(r, 'have-flood').counts.havesSent).toBeGreaterThan(100);
    expect(peerOf(r, 'reconnect').counts.rejectsSent).toBeGreaterThan(0);
  });

  it('honest viewers play without a stall', () => expectSmoothPlayback(r));

  it('a neighbour that forges acknowledgements is dropped (banned after a few forged acks)', () => {
    // An honest receiver cannot ack bytes never sent or echo a time the job never sent at, so
    // four such acks are proof; the leech loses its links before it can drain the seed's copies.
    expect(during(r, 'forged-acks').dropped).toBeGreaterThan(0);
  });

  it('a neighbour that floods Have messages is banned', () => {
    expect(during(r, 'have-flood').dropped).toBeGreaterThan(0);
    expect(sum(r, 'peers_banned'), finals(r)).toBeGreaterThan(0);
  });

  it('a refusing neighbour that comes back under a new id is dropped again', () => {
    expect(during(r, 'reconnect').rejoins).toBeGreaterThan(1);
  });
});
