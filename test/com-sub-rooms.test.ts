/** Sub-room assignment and merging as pure functions, table-driven. */
import { describe, expect, it } from 'vitest';
import type { SubRoomHints } from '../common/com';
import {
  assignSubRoom,
  EMPTY_ROOM,
  planMerges,
  type RoomState,
  resolveMerged,
  type SubRoomPolicy,
  type SubRoomState,
} from '../server/com/sub-rooms';

const T = ['ws://t0/tracker', 'ws://t1/tracker', 'ws://t2/tracker'];
const sub = (id: string, tracker: number, viewers: number, isps = {}, regions = {}): SubRoomState => ({
  id,
  tracker,
  viewers,
  isps,
  regions,
});

describe('assignSubRoom', () => {
  const table: Array<{
    name: string;
    room: RoomState;
    hints?: SubRoomHints;
    policy: SubRoomPolicy;
    subRoom: string;
    tracker: string;
    created: boolean;
    nextTracker: number;
  }> = [
    {
      name: 'first viewer opens s0 on the first tracker',
      room: EMPTY_ROOM,
      policy: { splitThreshold: Number.POSITIVE_INFINITY, trackerUrls: T },
      subRoom: 's0',
      tracker: T[0]!,
      created: true,
      nextTracker: 1,
    },
    {
      name: 'default policy: a huge room stays one sub-room',
      room: { subRooms: [sub('s0', 0, 1_000_000)], nextTracker: 1 },
      policy: { splitThreshold: Number.POSITIVE_INFINITY, trackerUrls: T },
      subRoom: 's0',
      tracker: T[0]!,
      created: false,
      nextTracker: 1,
    },
    {
      name: 'full sub-room: the next one opens on the next tracker',
      room: { subRooms: [sub('s0', 0, 100)], nextTracker: 1 },
      policy: { splitThreshold: 100, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: true,
      nextTracker: 2,
    },
    {
      name: 'round-robin wraps around the tracker list',
      room: { subRooms: [sub('s0', 0, 2), sub('s1', 1, 2), sub('s2', 2, 2)], nextTracker: 0 },
      policy: { splitThreshold: 2, trackerUrls: T },
      subRoom: 's3',
      tracker: T[0]!,
      created: true,
      nextTracker: 1,
    },
    {
      name: 'space left in an older sub-room is used before opening one',
      room: { subRooms: [sub('s0', 0, 2), sub('s1', 1, 1)], nextTracker: 2 },
      policy: { splitThreshold: 2, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: false,
      nextTracker: 2,
    },
    {
      name: 'oldest sub-room with space wins when hints do not decide',
      room: { subRooms: [sub('s0', 0, 5), sub('s1', 1, 1)], nextTracker: 2 },
      policy: { splitThreshold: 10, trackerUrls: T },
      subRoom: 's0',
      tracker: T[0]!,
      created: false,
      nextTracker: 2,
    },
    {
      name: 'same ISP attracts',
      room: {
        subRooms: [sub('s0', 0, 5, { ispa: 4 }), sub('s1', 1, 5, { ispb: 3 })],
        nextTracker: 2,
      },
      hints: { isp: 'ispb' },
      policy: { splitThreshold: 10, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: false,
      nextTracker: 2,
    },
    {
      name: 'ISP before region',
      room: {
        subRooms: [sub('s0', 0, 5, { ispa: 1 }, { eu: 5 }), sub('s1', 1, 5, { ispa: 2 }, {})],
        nextTracker: 2,
      },
      hints: { isp: 'ispa', region: 'eu' },
      policy: { splitThreshold: 10, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: false,
      nextTracker: 2,
    },
    {
      name: 'region decides when ISP counts tie',
      room: {
        subRooms: [sub('s0', 0, 5, {}, { us: 2 }), sub('s1', 1, 5, {}, { eu: 1 })],
        nextTracker: 2,
      },
      hints: { isp: 'ispa', region: 'eu' },
      policy: { splitThreshold: 10, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: false,
      nextTracker: 2,
    },
    {
      name: 'a full sub-room is skipped even when its ISP matches',
      room: {
        subRooms: [sub('s0', 0, 10, { ispa: 10 }), sub('s1', 1, 3)],
        nextTracker: 2,
      },
      hints: { isp: 'ispa' },
      policy: { splitThreshold: 10, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: false,
      nextTracker: 2,
    },
    {
      name: 'new ids skip taken ones',
      room: { subRooms: [sub('s1', 0, 1)], nextTracker: 0 },
      policy: { splitThreshold: 1, trackerUrls: T },
      subRoom: 's2',
      tracker: T[0]!,
      created: true,
      nextTracker: 1,
    },
    {
      name: 'a shorter tracker list still maps every sub-room',
      room: { subRooms: [sub('s0', 2, 1)], nextTracker: 0 },
      policy: { splitThreshold: 5, trackerUrls: ['ws://only/tracker'] },
      subRoom: 's0',
      tracker: 'ws://only/tracker',
      created: false,
      nextTracker: 0,
    },
    {
      name: 'hints named like Object.prototype members are plain keys',
      room: { subRooms: [sub('s0', 0, 1), sub('s1', 1, 1, { ['__proto__']: 1 })], nextTracker: 2 },
      hints: { isp: '__proto__', region: 'constructor' },
      policy: { splitThreshold: 5, trackerUrls: T },
      subRoom: 's1',
      tracker: T[1]!,
      created: false,
      nextTracker: 2,
    },
  ];

  it.each(table)('$name', (row) => {
    const before = JSON.stringify(row.room);
    const r = assignSubRoom(row.room, row.hints ?? {}, row.policy);
    expect({ subRoom: r.subRoom, tracker: r.trackerUrl, created: r.created }).toEqual({
      subRoom: row.subRoom,
      tracker: row.tracker,
      created: row.created,
    });
    expect(r.state.nextTracker).toBe(row.nextTracker);
    // Pure: the input is untouched, the output counts the viewer in.
    expect(JSON.stringify(row.room)).toBe(before);
    const chosen = r.state.subRooms.find((s) => s.id === row.subRoom)!;
    const old = row.room.subRooms.find((s) => s.id === row.subRoom);
    expect(chosen.viewers).toBe((old?.viewers ?? 0) + 1);
    if (row.hints?.isp) expect(Object.hasOwn(chosen.isps, row.hints.isp)).toBe(true);
  });

  it('fills sub-rooms one after another as viewers arrive', () => {
    let room = EMPTY_ROOM;
    const seen: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = assignSubRoom(room, {}, { splitThreshold: 3, trackerUrls: T.slice(0, 2) });
      room = r.state;
      seen.push(`${r.subRoom}@${r.trackerUrl.slice(5, 7)}`);
    }
    expect(seen).toEqual(['s0@t0', 's0@t0', 's0@t0', 's1@t1', 's1@t1', 's1@t1', 's2@t0']);
  });

  it('prefers the fullest sub-room with space when hints do not decide (shrinking ones drain)', () => {
    const room = { subRooms: [sub('s0', 0, 2), sub('s1', 1, 7), sub('s2', 2, 10)], nextTracker: 0 };
    const r = assignSubRoom(room, {}, { splitThreshold: 10, trackerUrls: T });
    expect(r.subRoom).toBe('s1');
    // ISP still comes first: s0 holds the asker's ISP.
    const withIsp = { ...room, subRooms: [sub('s0', 0, 2, { x: 1 }), sub('s1', 1, 7)] };
    expect(assignSubRoom(withIsp, { isp: 'x' }, { splitThreshold: 10, trackerUrls: T }).subRoom).toBe('s0');
  });

  it('sends a rejoining viewer back to its sub-room, even a full one (up to twice the size)', () => {
    const room = { subRooms: [sub('s0', 0, 3), sub('s1', 1, 1)], nextTracker: 2 };
    const policy = { splitThreshold: 3, trackerUrls: T };
    expect(assignSubRoom(room, {}, policy, 's0').subRoom).toBe('s0');
    expect(assignSubRoom(room, {}, policy).subRoom).toBe('s1');
    const overfull = { subRooms: [sub('s0', 0, 6), sub('s1', 1, 1)], nextTracker: 2 };
    expect(assignSubRoom(overfull, {}, policy, 's0').subRoom).toBe('s1');
    expect(assignSubRoom(room, {}, policy, 'gone').subRoom).toBe('s1');
  });

  it('refuses a policy without trackers or with a bad threshold', () => {
    expect(() => assignSubRoom(EMPTY_ROOM, {}, { splitThreshold: 5, trackerUrls: [] })).toThrow(/no tracker/);
    expect(() => assignSubRoom(EMPTY_ROOM, {}, { splitThreshold: 0, trackerUrls: T })).toThrow(/threshold/);
    expect(() => assignSubRoom(EMPTY_ROOM, {}, { splitThreshold: Number.NaN, trackerUrls: T })).toThrow();
  });
});

describe('planMerges', () => {
  const K = 100;
  const at = (s: SubRoomState, born: number): SubRoomState => ({ ...s, born });
  const table: Array<{ name: string; subRooms: SubRoomState[]; K?: number; want: string[] }> = [
    { name: 'one sub-room: nothing to merge', subRooms: [sub('s0', 0, 3)], want: [] },
    {
      name: 'a shrunken sub-room folds into the fullest that holds both',
      subRooms: [sub('s0', 0, 40), sub('s1', 1, 60), sub('s2', 2, 10)],
      want: ['s2>s1:10'],
    },
    {
      name: 'not past 3/4 of the threshold: the smaller target is used',
      subRooms: [sub('s0', 0, 40), sub('s1', 1, 70), sub('s2', 2, 10)],
      want: ['s2>s0:10'],
    },
    {
      name: 'nowhere to go: every other sub-room would pass 3/4',
      subRooms: [sub('s0', 0, 90), sub('s1', 1, 70), sub('s2', 2, 20)],
      want: [],
    },
    {
      name: 'not small enough (a quarter of K or more) stays',
      subRooms: [sub('s0', 0, 30), sub('s1', 1, 25)],
      want: [],
    },
    {
      name: 'shared ISP first, before the fuller target',
      subRooms: [sub('s0', 0, 50, { b: 50 }), sub('s1', 1, 30, { a: 30 }), sub('s2', 2, 5, { a: 4, b: 1 })],
      want: ['s2>s1:5'],
    },
    {
      name: 'then shared region',
      subRooms: [
        sub('s0', 0, 50, {}, { north: 50 }),
        sub('s1', 1, 30, {}, { south: 30 }),
        sub('s2', 2, 5, {}, { south: 5 }),
      ],
      want: ['s2>s1:5'],
    },
    {
      name: 'smallest first; a receiver is not also moved away, nor a mover received into',
      subRooms: [sub('s0', 0, 60), sub('s1', 1, 3), sub('s2', 2, 2), sub('s3', 3, 20)],
      want: ['s2>s0:2', 's1>s0:3'],
    },
    {
      name: 'two small ones fold into each other when nothing else holds them',
      subRooms: [sub('s0', 0, 80), sub('s1', 1, 3), sub('s2', 2, 2)],
      want: ['s2>s1:2'],
    },
    {
      name: 'empty sub-rooms are left to be dropped, not merged',
      subRooms: [sub('s0', 0, 40), sub('s1', 1, 0)],
      want: [],
    },
    {
      name: 'a young sub-room is left alone (new ones start small)',
      subRooms: [sub('s0', 0, 40), at(sub('s1', 1, 2), 990_000), at(sub('s2', 2, 3), 900_000)],
      want: ['s2>s0:3'],
    },
    {
      name: 'ties go to the oldest target',
      subRooms: [sub('s0', 0, 40), sub('s1', 1, 40), sub('s2', 2, 4)],
      want: ['s2>s0:4'],
    },
    {
      name: 'one sub-room per room when the threshold is Infinity',
      subRooms: [sub('s0', 0, 1), sub('s1', 1, 1)],
      K: Number.POSITIVE_INFINITY,
      want: [],
    },
  ];
  it.each(table)('$name', (row) => {
    const plan = planMerges(
      { subRooms: row.subRooms, nextTracker: 0 },
      { splitThreshold: row.K ?? K, now: 1_000_000, graceMs: 30_000 },
    );
    expect(plan.map((m) => `${m.from}>${m.into}:${m.viewers}`)).toEqual(row.want);
  });

  it('never leaves a merged room past 3/4 of the threshold, nor merges into a source', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 200; trial++) {
      const subRooms = Array.from({ length: 2 + Math.floor(rnd() * 8) }, (_, i) =>
        sub(`s${i}`, i, Math.floor(rnd() * (rnd() < 0.5 ? 30 : 100))),
      );
      const plan = planMerges({ subRooms, nextTracker: 0 }, { splitThreshold: K, now: 0, graceMs: 0 });
      const load = new Map(subRooms.map((s) => [s.id, s.viewers]));
      const from = new Set(plan.map((m) => m.from));
      for (const m of plan) {
        expect(from.has(m.into)).toBe(false);
        expect(m.viewers).toBeLessThan(K / 4);
        load.set(m.into, load.get(m.into)! + m.viewers);
      }
      for (const m of plan) expect(load.get(m.into)!).toBeLessThanOrEqual(0.75 * K);
    }
  });

  it('resolveMerged follows a chain of merges and stops on a loop', () => {
    const merged = new Map([
      ['s3', 's2'],
      ['s2', 's0'],
    ]);
    expect(resolveMerged(merged, 's3')).toBe('s0');
    expect(resolveMerged(merged, 's1')).toBe('s1');
    expect(
      typeof resolveMerged(
        new Map([
          ['a', 'b'],
          ['b', 'a'],
        ]),
        'a',
      ),
    ).toBe('string');
  });
});
