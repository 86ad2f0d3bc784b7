/**
 * The planner (pure) and the fetch engine over the segment table, with a fake clock and fake
 * sources: window bound, deadline rescue, the small-room first-copy rule, stalled and slow
 * peer transfers moved to the CDN, cancellation and late arrival.
 */
import { describe, expect, it } from 'vitest';
import type { SegmentEntry } from '../common/manifest';
import { sha256Hex } from '../common/sha256';
import { MemorySegmentCache } from '../main/core/cache/segment-cache';
import { FetchEngine, type FetchPolicy } from '../main/core/engine/fetch-engine';
import {
  cdnMarginFor,
  DEFAULT_LIMITS,
  FIND_NEIGHBOURS_GRACE_MS,
  firstCopyBackupMsFor,
  firstCopyDueAt,
  firstCopyRank,
  nextDueAt,
  type PlanInput,
  type PlanSegment,
  plan,
  smoothCdnFetchMs,
  waitsForPeers,
} from '../main/core/engine/planner';
import { refusalVerdict } from '../main/core/engine/refusals';
import { SegmentTable } from '../main/core/engine/segment-table';
import type { CdnSource } from '../main/core/source/cdn-source';
import type { PeerSource } from '../main/core/source/peer-source';
import type { FetchRequest } from '../main/core/source/segment-source';
import { PROMISED_SEGMENTS } from '../main/p2p/wire';
import { memoryLog } from './support/memory-log';

const now = 100_000;
const seg = (seq: number, deadline: number, extra: Partial<PlanSegment> = {}): PlanSegment => ({
  seq,
  deadline,
  size: 100_000,
  status: 'missing',
  source: null,
  holders: 0,
  firstCopyRank: null,
  listedAt: now - 5000,
  retryAt: 0,
  ...extra,
});
const input = (segments: PlanSegment[], extra: Partial<PlanInput> = {}): PlanInput => ({
  now,
  usePeers: true,
  overDownloadCap: false,
  segments,
  firstCopyRoom: 3,
  liveEdge: null,
  limits: { ...DEFAULT_LIMITS, maxCdnParallel: 2, maxPeerParallel: 3 },
  ...extra,
});
const show = (i: PlanInput) =>
  plan(i).map((a) =>
    a.type === 'cancel-peer' ? `${a.seq}:cancel-${a.why}->${a.next}` : `${a.seq}:${a.type}`,
  );
const transfer = (received: number, startedAgo: number, silentFor: number) => ({
  received,
  startedAt: now - startedAgo,
  lastDataAt: now - silentFor,
});
/** 60 of 100 kB in 1 s: the rest by now + 667, 333 ms before the deadline; a CDN fetch takes `cdnFetchMs`. */
const nearlyDone = (cdnFetchMs: number) =>
  input(
    [
      seg(1, now + 1000, {
        status: 'fetching',
        source: 'peer',
        holders: 1,
        transfer: transfer(60_000, 1000, 10),
      }),
    ],
    { limits: { ...DEFAULT_LIMITS, cdnMarginMs: cdnMarginFor(800, cdnFetchMs), cdnFetchMs } },
  );

describe('planner', () => {
  const cases: Array<[string, PlanInput, string[]]> = [
    ['due soon and missing: CDN (deadline rescue)', input([seg(1, now + 500)]), ['1:cdn']],
    ['not due, a neighbour has it: peers', input([seg(1, now + 3000, { holders: 2 })]), ['1:peer']],
    ['not due, nobody has it yet: wait', input([seg(1, now + 3000)]), []],
    [
      'already here, on its way or awaiting its check: nothing',
      input([
        seg(1, now, { status: 'verified' }),
        seg(2, now, { status: 'fetching', source: 'cdn' }),
        seg(3, now, { status: 'complete' }),
        seg(4, now, { status: 'lost' }),
      ]),
      [],
    ],
    [
      'without peers: everything from the CDN',
      input([seg(1, now + 5000, { holders: 3 })], { usePeers: false }),
      ['1:cdn'],
    ],
    [
      'most urgent first, CDN parallelism capped',
      input([seg(3, now + 100), seg(1, now - 50), seg(2, now + 10)]),
      ['1:cdn', '2:cdn'],
    ],
    [
      'a CDN fetch in flight counts against the cap',
      input([seg(1, now, { status: 'fetching', source: 'cdn' }), seg(2, now + 10), seg(3, now + 20)]),
      ['2:cdn'],
    ],
    ['a failed segment waits for its retry time', input([seg(1, now + 100, { retryAt: now + 50 })]), []],
    [
      'first-copy duty: taken from the CDN early once the grace for a seed has passed',
      input([seg(1, now + 3000, { firstCopyRank: 0, listedAt: now - DEFAULT_LIMITS.firstCopyDelayMs })]),
      ['1:cdn'],
    ],
    [
      'first-copy duty in a large room: waits three times as long for copies from elsewhere',
      input([seg(1, now + 3000, { firstCopyRank: 0, listedAt: now - DEFAULT_LIMITS.firstCopyDelayMs })], {
        firstCopyRoom: 9,
      }),
      [],
    ],
    [
      'first-copy duty: not before the grace',
      input([seg(1, now + 3000, { firstCopyRank: 0, listedAt: now - 10 })]),
      [],
    ],
    [
      "first backup: nobody holds it one backup step after the holder's time, so it takes it",
      input([
        seg(1, now + 3000, {
          firstCopyRank: 1,
          listedAt: now - DEFAULT_LIMITS.firstCopyDelayMs - DEFAULT_LIMITS.firstCopyBackupMs,
        }),
      ]),
      ['1:cdn'],
    ],
    [
      'first backup: not while the holder may still be fetching',
      input([seg(1, now + 3000, { firstCopyRank: 1, listedAt: now - DEFAULT_LIMITS.firstCopyDelayMs })]),
      [],
    ],
    [
      'second backup: two steps',
      input([
        seg(1, now + 3000, {
          firstCopyRank: 2,
          listedAt: now - DEFAULT_LIMITS.firstCopyDelayMs - 2 * DEFAULT_LIMITS.firstCopyBackupMs + 1,
        }),
        seg(2, now + 3000, {
          firstCopyRank: 2,
          listedAt: now - DEFAULT_LIMITS.firstCopyDelayMs - 2 * DEFAULT_LIMITS.firstCopyBackupMs,
        }),
      ]),
      ['2:cdn'],
    ],
    [
      'a rank past the backups waits for its deadline',
      input([
        seg(1, now + 3000, { firstCopyRank: DEFAULT_LIMITS.firstCopyBackups + 1, listedAt: now - 5000 }),
      ]),
      [],
    ],
    [
      'a backup whose segment has shown up takes it from the peers',
      input([seg(1, now + 3000, { firstCopyRank: 1, holders: 1, listedAt: now - 5000 })]),
      ['1:peer'],
    ],
    [
      'no backups in a large room: copies from other neighbourhoods take hops to arrive',
      input([seg(1, now + 3000, { firstCopyRank: 1, listedAt: now - 5000 })], { firstCopyRoom: 9 }),
      [],
    ],
    [
      'first-copy duty: someone already has it, so it comes from the peers',
      input([seg(1, now + 3000, { firstCopyRank: 0, holders: 1 })]),
      ['1:peer'],
    ],
    [
      'silent peer transfer, not urgent: cancelled, asked again elsewhere',
      input([
        seg(1, now + 3000, {
          status: 'fetching',
          source: 'peer',
          holders: 2,
          transfer: transfer(0, 1600, 1600),
        }),
      ]),
      ['1:cancel-silent->peer'],
    ],
    [
      'silent peer transfer, only holder: cancelled, waits for another',
      input([
        seg(1, now + 3000, {
          status: 'fetching',
          source: 'peer',
          holders: 1,
          transfer: transfer(0, 1600, 1600),
        }),
      ]),
      ['1:cancel-silent->wait'],
    ],
    [
      'stalled peer transfer near its deadline: moved to the CDN',
      input([
        seg(1, now + 400, {
          status: 'fetching',
          source: 'peer',
          holders: 1,
          transfer: transfer(10_000, 2000, 1600),
        }),
      ]),
      ['1:cancel-silent->cdn'],
    ],
    [
      'slow peer transfer near its deadline: moved to the CDN',
      input([
        seg(1, now + 400, {
          status: 'fetching',
          source: 'peer',
          holders: 1,
          transfer: transfer(10_000, 1000, 10),
        }),
      ]),
      ['1:cancel-slow->cdn'],
    ],
    [
      'peer transfer on pace to finish just before its deadline, too late for a CDN rescue: moved to the CDN',
      nearlyDone(600),
      ['1:cancel-slow->cdn'],
    ],
    ['the same transfer where the CDN takes 300 ms: left alone', nearlyDone(300), []],
    [
      'trickling peer transfer, deadline far, another holder: given up for it after the judge time',
      input([
        seg(1, now + 3000, {
          status: 'fetching',
          source: 'peer',
          holders: 2,
          // 500 bytes in 1.1 s: 100 kB would take minutes.
          transfer: transfer(500, 1100, 300),
        }),
      ]),
      ['1:cancel-slow->peer'],
    ],
    [
      'slow-looking peer transfer before the judge time: left alone',
      input([
        seg(1, now + 3000, {
          status: 'fetching',
          source: 'peer',
          holders: 2,
          transfer: transfer(500, 600, 300),
        }),
      ]),
      [],
    ],
    [
      'peer transfer on pace for its deadline after the judge time: left alone',
      input([
        seg(1, now + 3000, {
          status: 'fetching',
          source: 'peer',
          holders: 2,
          // 50 kB in 1.2 s: the other 50 kB come in another 1.2 s, before the deadline.
          transfer: transfer(50_000, 1200, 10),
        }),
      ]),
      [],
    ],
    [
      'trickling peer transfer past its time budget: cancelled',
      input([
        seg(1, now + 3000, {
          status: 'fetching',
          source: 'peer',
          holders: 1,
          transfer: transfer(500, 4100, 100),
        }),
      ]),
      ['1:cancel-budget->wait'],
    ],
    [
      'fast peer transfer near its deadline: left alone',
      input([
        seg(1, now + 400, {
          status: 'fetching',
          source: 'peer',
          holders: 1,
          transfer: transfer(90_000, 100, 5),
        }),
      ]),
      [],
    ],
    [
      'peer parallelism capped',
      input([1, 2, 3, 4, 5].map((s) => seg(s, now + 3000 + s, { holders: 1 }))),
      ['1:peer', '2:peer', '3:peer'],
    ],
    [
      'over the download cap: nothing ahead from peers',
      input([seg(1, now + 3000, { holders: 1 })], { overDownloadCap: true }),
      [],
    ],
    [
      'over the download cap: what is due still comes',
      input([seg(1, now + 100, { holders: 1 })], { overDownloadCap: true }),
      ['1:cdn'],
    ],
    ['the live edge streams when asked for', input([], { usePeers: false, liveEdge: 7 }), ['7:live-edge']],
  ];
  it.each(cases)('%s', (_name, i, expected) => {
    expect(show(i)).toEqual(expected);
  });

  // When the periodic pass may next decide something without an event (the engine skips the beats before).
  const margin = DEFAULT_LIMITS.cdnMarginMs;
  const dueCases: Array<[string, PlanInput, number]> = [
    ['nothing outstanding: never', input([seg(1, now + 3000, { status: 'verified' })]), Infinity],
    [
      'a segment nobody holds: when its deadline comes within the margin',
      input([seg(1, now + 3000)]),
      now + 3000 - margin,
    ],
    ['the earliest of several', input([seg(1, now + 3000), seg(2, now + 2000)]), now + 2000 - margin],
    [
      'already within the margin: at once',
      input([seg(1, now + 500, { source: 'cdn', status: 'fetching' }), seg(2, now + 700)]),
      now,
    ],
    [
      'a CDN fetch in flight: its end is an event',
      input([seg(1, now + 500, { source: 'cdn', status: 'fetching' })]),
      Infinity,
    ],
    ['a retry waits', input([seg(1, now + 5000, { retryAt: now + 300 })]), now + 300],
    [
      'a holder but no free peer slot: every beat',
      input([seg(1, now + 3000, { holders: 2 })], { limits: { ...DEFAULT_LIMITS, maxPeerParallel: 0 } }),
      now,
    ],
    [
      'a first-copy duty: when it falls due',
      input([seg(1, now + 3000, { firstCopyRank: 0, listedAt: now - 100 })]),
      now - 100 + DEFAULT_LIMITS.firstCopyDelayMs,
    ],
    [
      'a young peer transfer: when it can be judged',
      input([seg(1, now + 3000, { source: 'peer', status: 'fetching', transfer: transfer(10, 200, 50) })]),
      now - 200 + DEFAULT_LIMITS.peerJudgeMs,
    ],
    [
      'a peer transfer older than the judging time: every beat',
      input([seg(1, now + 3000, { source: 'peer', status: 'fetching', transfer: transfer(10, 1200, 50) })]),
      now,
    ],
    [
      'a young transfer gone quiet: when it counts as silent',
      input([seg(1, now + 3000, { source: 'peer', status: 'fetching', transfer: transfer(10, 100, 0) })], {
        limits: { ...DEFAULT_LIMITS, peerSilenceMs: 300 },
      }),
      now + 300,
    ],
    ['CDN only: every beat', input([seg(1, now + 3000)], { usePeers: false }), now],
    ['over the download cap: every beat', input([seg(1, now + 3000)], { overDownloadCap: true }), now],
  ];
  it.each(dueCases)('next due: %s', (_name, i, expected) => {
    expect(nextDueAt(i, plan(i))).toBe(expected);
  });

  it('next due: a pass that acted plans again at the next beat', () => {
    const i = input([seg(1, now + 3000, { holders: 1 })]);
    expect(plan(i)).toHaveLength(1);
    expect(nextDueAt(i, plan(i))).toBe(now);
  });

  it('says why each CDN fetch is taken', () => {
    const why = (i: PlanInput) => plan(i).map((a) => (a.type === 'cdn' ? a.why : a.type));
    const listed = now - DEFAULT_LIMITS.firstCopyDelayMs - DEFAULT_LIMITS.firstCopyBackupMs;
    expect(why(input([seg(1, now + 500)]))).toEqual(['deadline']);
    expect(why(input([seg(1, now + 5000)], { usePeers: false }))).toEqual(['no-peers']);
    expect(why(input([seg(1, now + 3000, { firstCopyRank: 0, listedAt: listed })]))).toEqual(['first-copy']);
    expect(why(input([seg(1, now + 3000, { firstCopyRank: 1, listedAt: listed })]))).toEqual(['backup']);
  });

  it('elects one first-copy holder per segment, rotating, and orders the backups after it', () => {
    const room = ['a', 'b', 'c'];
    const holders = [0, 1, 2, 3, 4, 5].map((seq) => room.find((m) => firstCopyRank(seq, room, m) === 0));
    expect(holders).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    // Segment 1: b holds, c backs it up first, then a.
    expect(room.map((m) => firstCopyRank(1, room, m))).toEqual([2, 0, 1]);
    expect(firstCopyRank(4, [], 'a')).toBeNull();
    expect(firstCopyRank(4, ['a'], 'a')).toBeNull();
    expect(firstCopyRank(4, room, 'z')).toBeNull();
    expect(firstCopyRank(4, room, null)).toBeNull();
  });

  it('two members that are not linked: every segment still gets a holder or an early backup', () => {
    // Five viewers; a and b cannot connect, so their views of the room leave each other out.
    const all = ['a', 'b', 'c', 'd', 'e'];
    const views: Record<string, string[]> = {
      a: ['a', 'c', 'd', 'e'],
      b: ['b', 'c', 'd', 'e'],
      c: all,
      d: all,
      e: all,
    };
    const L = DEFAULT_LIMITS;
    for (let seq = 0; seq < 20; seq++) {
      const due = all
        .map((m) => firstCopyDueAt(firstCopyRank(seq, views[m]!, m), 0, views[m]!.length, L))
        .filter((t): t is number => t !== null);
      // Before the backups, 3 segments in 10 had nobody early at all.
      expect(Math.min(...due)).toBeLessThanOrEqual(
        L.firstCopyDelayMs + L.firstCopyBackups * L.firstCopyBackupMs,
      );
    }
  });

  it('backs up by the measured CDN fetch time, at least the planned step', () => {
    expect(firstCopyBackupMsFor(500, 0)).toBe(500);
    expect(firstCopyBackupMsFor(500, 350)).toBe(650);
  });

  it.each([
    ['a fast CDN: the planned margin', 800, 100, 800],
    ['a slow CDN: one and a half fetches and some', 800, 600, 1100],
    ['a very slow CDN: capped at twice the plan', 800, 2000, 1600],
  ] as const)('CDN margin: %s', (_name, planned, fetchMs, expected) => {
    expect(cdnMarginFor(planned, fetchMs)).toBe(expected);
  });

  it('times the first CDN fetch as it is, then smooths', () => {
    expect(smoothCdnFetchMs(0, 600)).toBe(600);
    expect(smoothCdnFetchMs(600, 100)).toBe(500);
  });
});

// ---- the engine over the table, with fake sources and a fake clock ----

const entry = (seq: number, bytes: Uint8Array, originTime: number): SegmentEntry => ({
  seq,
  initVersion: 0,
  startTs: seq * 1000,
  durationMs: 1000,
  size: bytes.length,
  sha256: sha256Hex(bytes),
  keyframeOffset: seq % 2 === 0 ? 0 : null,
  originTime,
});

class FakeCdn {
  readonly name = 'cdn' as const;
  started: FetchRequest[] = [];
  cancelled: number[] = [];
  start(req: FetchRequest) {
    this.started.push(req);
    return { peer: null };
  }
  cancel(seq: number) {
    this.cancelled.push(seq);
  }
  progress() {
    return undefined;
  }
  close() {}
}

class FakePeers {
  readonly name = 'peer' as const;
  started: FetchRequest[] = [];
  cancelled: Array<{ seq: number; penalise: boolean }> = [];
  announced: number[] = [];
  banned: string[] = [];
  members: string[] = [];
  transfers = new Map<number, { received: number; startedAt: number; lastDataAt: number }>();
  node = { peerId: 'me', peerCount: 3 };
  start(req: FetchRequest) {
    this.started.push(req);
    return { peer: [...req.holders][0]! };
  }
  cancel(seq: number, penalise: boolean) {
    this.cancelled.push({ seq, penalise });
  }
  progress(seq: number) {
    return this.transfers.get(seq);
  }
  firstCopyMembers() {
    return this.members;
  }
  announce(seq: number) {
    this.announced.push(seq);
  }
  ban(peer: string) {
    this.banned.push(peer);
  }
  close() {}
}

function rig(policy: Partial<FetchPolicy> = {}) {
  let t = 1_000_000;
  const cache = new MemorySegmentCache(64 * 1024 * 1024);
  const engine = new FetchEngine({
    channel: 'demo',
    role: 'viewer',
    cache,
    log: memoryLog(),
    policy: () => ({ p2p: true, latencyTargetMs: 4000, downloadCapKbps: null, ...policy }),
    clockOffsetMs: () => 0,
    changed: () => undefined,
    now: () => t,
    tickMs: 1e9,
    // The fake CDN never finishes: room for every fetch a test makes.
    limits: { maxCdnParallel: 64 },
  });
  const cdn = new FakeCdn();
  const peers = new FakePeers();
  engine.setCdn(cdn as unknown as CdnSource);
  engine.setPeers(peers as unknown as PeerSource);
  const pass = () => (engine as unknown as { pass(): void }).pass();
  const bytes = (seq: number) => new Uint8Array(1000).fill(seq & 0xff);
  const manifest = (from: number, to: number, live = true) => {
    const list: SegmentEntry[] = [];
    for (let s = from; s <= to; s++) list.push(entry(s, bytes(s), t - (to - s) * 1000));
    engine.resetStream('s1');
    engine.addEntries(list, live);
  };
  return {
    engine,
    cdn,
    peers,
    cache,
    pass,
    bytes,
    manifest,
    advance: (ms: number) => {
      t += ms;
    },
    get now() {
      return t;
    },
  };
}

describe('fetch engine', () => {
  it('keeps only the live window, whatever the watch time', () => {
    const table = new SegmentTable();
    table.reset('s');
    for (let s = 0; s < 2000; s++) {
      const b = new Uint8Array([s & 0xff]);
      const windowStart = Math.max(0, s - 29);
      const list: SegmentEntry[] = [];
      for (let w = windowStart; w <= s; w++) list.push(entry(w, b, w * 1000));
      table.addEntries(list, s * 1000);
    }
    expect([...table.all()].length).toBeLessThanOrEqual(30 + 8);
    expect(table.latest).toBe(1999);
  });

  it("gives the same anchors until an entry or the live edge's timing changes", () => {
    const table = new SegmentTable();
    table.reset('s');
    const b = new Uint8Array([1]);
    const list = (from: number, to: number) => {
      const out: SegmentEntry[] = [];
      for (let s = from; s <= to; s++) out.push(entry(s, b, 1000 + s * 1000));
      return out;
    };
    table.addEntries(list(0, 20), 0);
    const first = table.anchors(null);
    expect(first.map((a) => a.ts)).toEqual(list(5, 20).map((e) => e.startTs));
    expect(table.anchors(null)).toBe(first);
    // The live edge streamed ahead of the manifest: its timing is the newest anchor.
    const edge = table.ensure(21)!;
    edge.edgeStartTs = 21_000;
    edge.edgeOriginTime = 22_000;
    const withEdge = table.anchors(21);
    expect(withEdge).not.toBe(first);
    expect(withEdge.at(-1)).toEqual({ ts: 21_000, originTime: 22_000 });
    expect(withEdge).toHaveLength(16);
    expect(table.anchors(21)).toBe(withEdge);
    // The manifest lists it: its entry replaces the edge's timing.
    table.addEntries(list(1, 21), 1000);
    const listed = table.anchors(21);
    expect(listed).not.toBe(withEdge);
    expect(listed.at(-1)).toEqual({ ts: entry(21, b, 0).startTs, originTime: 1000 + 21 * 1000 });
    expect(table.anchors(21, 4)).toHaveLength(4);
  });

  it('takes what is due from the CDN, the rest from holders, and nothing nobody has', () => {
    const r = rig();
    r.manifest(10, 20);
    r.engine.holders('p1', [19]);
    r.pass();
    const cdnSeqs = r.cdn.started.map((q) => q.seq);
    // 4 s behind live: the start point is 4 segments back; older ones are due now.
    expect(cdnSeqs.length).toBeGreaterThan(0);
    expect(cdnSeqs.every((s) => s >= r.engine.table.wantFrom!)).toBe(true);
    expect(r.peers.started.map((q) => q.seq)).toEqual([19]);
    expect(r.cdn.started.map((q) => q.seq)).not.toContain(20);
  });

  it('counts peer bytes only after their hash matches, and bans a liar', () => {
    const r = rig();
    r.manifest(10, 20);
    r.engine.holders('p1', [20]);
    r.pass();
    const bad = r.bytes(20).slice();
    bad[5] = bad[5]! ^ 1;
    expect(r.engine.delivered(20, bad, { source: 'p2p', peer: 'p1', role: 'viewer' })).toBe('bad');
    expect(r.engine.hashFailures).toBe(1);
    expect(r.engine.table.get(20)!.holders.has('p1')).toBe(false);
    expect(r.engine.delivered(20, r.bytes(20), { source: 'p2p', peer: 'p2', role: 'viewer' })).toBe('ok');
    expect(r.engine.bytesP2p).toBe(1000);
    expect(r.cache.get(20)?.verified).toBe(true);
    expect(r.peers.announced).toContain(20);
  });

  it('holds peer bytes that come before their entry and checks them when it arrives', () => {
    const r = rig();
    r.manifest(10, 20);
    expect(r.engine.delivered(21, r.bytes(21), { source: 'p2p', peer: 'early', role: 'viewer' })).toBe(
      'pending',
    );
    r.engine.addEntries([entry(21, r.bytes(21), r.now)], true);
    expect(r.engine.table.get(21)!.status).toBe('verified');
    expect(r.engine.delivered(40, r.bytes(40), { source: 'p2p', peer: 'far', role: 'viewer' })).toBe('bad');
  });

  it('moves a silent peer transfer to the CDN when its deadline comes near', () => {
    const r = rig({ latencyTargetMs: 4000 });
    r.manifest(10, 20);
    r.engine.holders('p1', [20]);
    r.pass();
    expect(r.peers.started.map((q) => q.seq)).toContain(20);
    r.peers.transfers.set(20, { received: 0, startedAt: r.now, lastDataAt: r.now });
    r.advance(3000);
    r.pass();
    expect(r.peers.cancelled).toContainEqual({ seq: 20, penalise: true });
    expect(r.cdn.started.map((q) => q.seq)).toContain(20);
  });

  it('a late peer arrival after the move to the CDN still counts once, and the CDN fetch is cancelled', () => {
    const r = rig();
    r.manifest(10, 20);
    r.engine.holders('p1', [20]);
    r.pass();
    r.peers.transfers.set(20, { received: 0, startedAt: r.now, lastDataAt: r.now });
    r.advance(3000);
    r.pass();
    expect(r.engine.delivered(20, r.bytes(20), { source: 'p2p', peer: 'p1', role: 'viewer' })).toBe('ok');
    expect(r.cdn.cancelled).toContain(20);
    expect(r.engine.table.get(20)!.status).toBe('verified');
  });

  it('small room, no seed: the first-copy holder takes new segments from the CDN early, the others wait', () => {
    const holder = rig();
    holder.peers.members = ['me', 'x'];
    holder.manifest(10, 20);
    holder.pass();
    holder.advance(DEFAULT_LIMITS.firstCopyDelayMs);
    holder.cdn.started = [];
    holder.engine.addEntries([entry(22, holder.bytes(22), holder.now)], true);
    holder.advance(DEFAULT_LIMITS.firstCopyDelayMs);
    holder.pass();
    // 'me' is the holder of even seqs in the room [me, x].
    expect(holder.cdn.started.map((q) => q.seq)).toContain(22);

    const other = rig();
    other.peers.members = ['a', 'me'];
    other.manifest(10, 20);
    other.pass();
    other.cdn.started = [];
    other.engine.addEntries([entry(22, other.bytes(22), other.now)], true);
    other.advance(DEFAULT_LIMITS.firstCopyDelayMs);
    other.pass();
    expect(other.cdn.started.map((q) => q.seq)).not.toContain(22);
    // Nobody announced it one backup step later: 'me', next in the order, takes it itself.
    other.advance(DEFAULT_LIMITS.firstCopyBackupMs);
    other.pass();
    expect(other.cdn.started.map((q) => q.seq)).toContain(22);
  });

  it('gives a segment up as lost after repeated CDN failures and says so', () => {
    const r = rig({ p2p: false });
    r.manifest(10, 12, false);
    r.pass();
    const seq = r.cdn.started[0]!.seq;
    for (let i = 0; i < 4; i++) {
      r.engine.failed(seq, 'cdn', 'boom', false);
      r.advance(1000);
      r.pass();
    }
    expect(r.engine.table.isLost(seq)).toBe(true);
  });
});

describe('fetch engine at the live edge (no peers)', () => {
  it('asks for the segment after the one being cut while that one streams, and no further', () => {
    const r = rig({ p2p: false });
    r.manifest(10, 20);
    const edge = () => r.cdn.started.filter((q) => q.liveEdge).map((q) => q.seq);
    r.pass();
    expect(edge()).toEqual([21]);
    // 21 streams: 22 is asked for ahead (the origin holds it until the cut begins it).
    r.pass();
    expect(edge()).toEqual([21, 22]);
    r.pass();
    expect(edge()).toEqual([21, 22]);
  });
});

describe('fetch engine without connected neighbours', () => {
  it('waits for its first neighbour with what is not due while its swarm is new, then takes it all from the CDN', () => {
    const r = rig();
    r.peers.node.peerCount = 0;
    r.manifest(10, 20);
    r.pass();
    // The start of the burst is due now: from the CDN at once. The newest entries are not.
    const first = r.cdn.started.map((q) => q.seq);
    expect(first.length).toBeGreaterThan(0);
    expect(first).not.toContain(20);
    // Nobody came: alone, it takes everything from the start point to the newest entry.
    r.advance(FIND_NEIGHBOURS_GRACE_MS);
    r.pass();
    expect(r.cdn.started.map((q) => q.seq)).toContain(20);
    expect(r.peers.started).toEqual([]);
  });

  it('takes the start segment of a channel that just went live from the CDN at once', () => {
    const r = rig();
    r.peers.node.peerCount = 0;
    // Two seconds of history against a 4-s target: by its deadline the start could wait.
    r.manifest(10, 11);
    r.pass();
    expect(r.cdn.started.map((q) => q.seq)).toEqual([10]);
  });

  it('asks a neighbour that connected during the grace for what it announced', () => {
    const r = rig();
    r.peers.node.peerCount = 0;
    r.manifest(10, 20);
    r.pass();
    r.peers.node.peerCount = 1;
    r.engine.holders('n1', [18, 19, 20]);
    r.pass();
    expect(r.peers.started.map((q) => q.seq).sort((a, b) => a - b)).toEqual([18, 19, 20]);
    expect(r.cdn.started.map((q) => q.seq)).not.toContain(20);
  });
});

describe('waitsForPeers', () => {
  const base = { seed: false, p2p: true, swarmAgeMs: 0, peerCount: 0 };
  it.each([
    ['a new swarm still finding its first neighbour', base, true],
    ['a swarm with neighbours', { ...base, swarmAgeMs: 60_000, peerCount: 2 }, true],
    ['alone after the grace', { ...base, swarmAgeMs: FIND_NEIGHBOURS_GRACE_MS }, false],
    ['no swarm (yet)', { ...base, swarmAgeMs: null }, false],
    ['P2P off or low latency', { ...base, p2p: false, peerCount: 3 }, false],
    ['a seed', { ...base, seed: true, peerCount: 3 }, false],
  ] as const)('%s', (_name, input, expected) => {
    expect(waitsForPeers(input)).toBe(expected);
  });
});

describe('fetch engine: neighbours that lie', () => {
  it('bans at once a neighbour that refuses a segment among the newest it promised to keep', () => {
    const r = rig();
    r.manifest(10, 20);
    r.engine.addEntries([entry(21, r.bytes(21), r.now)], true);
    r.engine.holders('liar', [21]);
    r.pass();
    expect(r.engine.table.get(21)!.fetch?.peer).toBe('liar');
    r.engine.failed(21, 'peer', 'not-have', false, 'liar');
    expect(r.peers.banned).toEqual(['liar']);
  });

  it('bans at the second refusal of older announced segments (a race with eviction is allowed once)', () => {
    const r = rig();
    r.manifest(10, 20);
    // Refuses 21 and 22 after announcing them and, later, 30: both behind its newest promised ones.
    for (const seq of [21, 22]) {
      r.engine.addEntries([entry(seq, r.bytes(seq), r.now)], true);
      r.engine.holders('liar', [seq]);
      r.pass();
      expect(r.engine.table.get(seq)!.fetch?.peer).toBe('liar');
    }
    r.engine.holders('liar', [30]);
    for (const seq of [21, 22]) {
      expect(r.peers.banned).toEqual([]);
      r.engine.failed(seq, 'peer', 'not-have', false, 'liar');
    }
    expect(r.peers.banned).toEqual(['liar']);
  });

  const verdicts: Array<[string, number, number | undefined, number, 'ban' | 'strike']> = [
    ['the newest announced', 20, 20, 0, 'ban'],
    [
      `within half the promise (${PROMISED_SEGMENTS / 2} newest)`,
      20 - PROMISED_SEGMENTS / 2 + 1,
      20,
      0,
      'ban',
    ],
    ['just behind half the promise', 20 - PROMISED_SEGMENTS / 2, 20, 0, 'strike'],
    ['old, second refusal', 5, 20, 1, 'ban'],
    ['nothing announced known', 20, undefined, 0, 'strike'],
  ];
  it.each(verdicts)('refusalVerdict: %s', (_name, seq, newest, strikes, verdict) => {
    expect(refusalVerdict(seq, newest, strikes)).toBe(verdict);
  });

  it('does not count a refusal of a segment that was never announced', () => {
    const r = rig();
    r.manifest(10, 20);
    for (const seq of [17, 18, 19]) r.engine.failed(seq, 'peer', 'not-have', false, 'honest');
    expect(r.peers.banned).toEqual([]);
  });
});
