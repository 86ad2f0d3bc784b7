/** Neighbour choice as a pure function: fake peers, a seeded random source. */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../common/token-bucket';
import type { PeerInfo } from '../common/tracker-protocol';
import {
  chooseNeighbours,
  crossIspPlaces,
  DEFAULT_NEIGHBOUR_OPTIONS,
  type NeighbourOptions,
  seededRandom,
} from '../server/tracker/neighbours';

/** Peer ids: the name, a 'z' and padding to 16 characters, so tables stay readable. */
const id = (name: string) => `${name}z`.padEnd(16, '0');
const viewer = (name: string, isp?: string, region?: string): PeerInfo => ({
  peerId: id(name),
  role: 'viewer',
  ...(isp ? { isp } : {}),
  ...(region ? { region } : {}),
});
const seed = (name: string): PeerInfo => ({ peerId: id(name), role: 'seed' });

const me = { peerId: id('me'), isp: 'ispa', region: 'north' };
const room: PeerInfo[] = [
  viewer('me', 'ispa', 'north'),
  viewer('ab1', 'ispa', 'north'), // same ISP and region
  viewer('ab2', 'ispa', 'north'),
  viewer('a1', 'ispa', 'south'), // same ISP
  viewer('a2', 'ispa'),
  viewer('b1', 'ispb', 'north'), // same region
  viewer('o1', 'ispb', 'south'), // neither
  viewer('o2'),
  seed('s1'),
  seed('s2'),
];

/** Names of the chosen peers, with each locality class sorted (order inside a class is random). */
function classes(peers: PeerInfo[]): string[][] {
  const cls = (p: PeerInfo) =>
    p.role === 'seed'
      ? 'seed'
      : p.isp === me.isp && p.region === me.region
        ? 'isp+region'
        : p.isp === me.isp
          ? 'isp'
          : p.region === me.region
            ? 'region'
            : 'other';
  const out: string[][] = [];
  let last = '';
  for (const p of peers) {
    const c = cls(p);
    if (c !== last) out.push([c]);
    out[out.length - 1]!.push(p.peerId.replace(/z0*$/, ''));
    last = c;
  }
  return out.map(([c, ...names]) => [c!, ...names.sort()]);
}

describe('chooseNeighbours', () => {
  const table: Array<{
    name: string;
    want: number;
    exclude?: string[];
    members?: PeerInfo[];
    expect: string[][];
  }> = [
    {
      name: 'small want: no seed, best locality first',
      want: 2,
      expect: [['isp+region', 'ab1', 'ab2']],
    },
    {
      name: 'want 3 spills into same-ISP',
      want: 3,
      expect: [
        ['isp+region', 'ab1', 'ab2'],
        ['isp', expect.any(String) as unknown as string],
      ],
    },
    {
      name: 'want ≥ 4: one seed first, then by locality',
      want: 4,
      expect: [
        ['seed', expect.stringMatching(/^s[12]$/) as unknown as string],
        ['isp+region', 'ab1', 'ab2'],
        ['isp', expect.any(String) as unknown as string],
      ],
    },
    {
      name: 'everyone: still only one seed',
      want: 32,
      expect: [
        ['seed', expect.stringMatching(/^s[12]$/) as unknown as string],
        ['isp+region', 'ab1', 'ab2'],
        ['isp', 'a1', 'a2'],
        ['region', 'b1'],
        ['other', 'o1', 'o2'],
      ],
    },
    {
      name: 'exclude is honoured (and self never appears)',
      want: 3,
      exclude: [id('ab1'), id('a1'), id('me')],
      expect: [
        ['isp+region', 'ab2'],
        ['isp', 'a2'],
        ['region', 'b1'],
      ],
    },
    {
      name: 'only seeds left: one seed even for a small want',
      want: 2,
      members: [viewer('me', 'ispa'), seed('s1'), seed('s2'), viewer('x1')],
      exclude: [id('x1')],
      expect: [['seed', expect.stringMatching(/^s[12]$/) as unknown as string]],
    },
    { name: 'alone', want: 8, members: [viewer('me')], expect: [] },
    { name: 'want 0', want: 0, expect: [] },
  ];

  it.each(table)('$name', (row) => {
    const got = chooseNeighbours(me, row.members ?? room, row.want, row.exclude ?? [], seededRandom(7));
    expect(classes(got)).toEqual(row.expect);
    expect(got.length).toBeLessThanOrEqual(Math.max(0, row.want));
    expect(new Set(got.map((p) => p.peerId)).size).toBe(got.length);
    expect(got.some((p) => p.peerId === me.peerId || row.exclude?.includes(p.peerId))).toBe(false);
  });

  it('without hints every viewer is one class', () => {
    const got = chooseNeighbours({ peerId: id('me') }, room, 7, [], seededRandom(1));
    expect(got[0]!.role).toBe('seed');
    expect(got.slice(1).every((p) => p.role === 'viewer')).toBe(true);
    expect(got).toHaveLength(7);
  });

  it('is reproducible with the same seed and spreads choices across a class', () => {
    const big: PeerInfo[] = Array.from({ length: 100 }, (_, i) => viewer(`v${i}`, 'ispz'));
    const a = chooseNeighbours(me, big, 5, [], seededRandom(42)).map((p) => p.peerId);
    const b = chooseNeighbours(me, big, 5, [], seededRandom(42)).map((p) => p.peerId);
    expect(a).toEqual(b);
    const picked = new Map<string, number>();
    const random = seededRandom(3);
    for (let i = 0; i < 400; i++) {
      for (const p of chooseNeighbours(me, big, 5, [], random))
        picked.set(p.peerId, (picked.get(p.peerId) ?? 0) + 1);
    }
    // 2000 picks over 100 peers: every peer picked, none more than ~3× its share.
    expect(picked.size).toBe(100);
    expect(Math.max(...picked.values())).toBeLessThan(60);
  });

  it('copes with a random source that returns 1', () => {
    const got = chooseNeighbours(me, room, 32, [], () => 0.9999999999999999);
    expect(got).toHaveLength(8);
    expect(chooseNeighbours(me, room, 32, [], () => 1)).toHaveLength(8);
  });
});

describe('chooseNeighbours keeps a small share of cross-ISP links', () => {
  // A room with plenty of both: 12 viewers of the asker's ISP (half in its region), 12 of others.
  const local = Array.from({ length: 12 }, (_, i) => viewer(`l${i}`, 'ispa', i % 2 ? 'north' : 'south'));
  const near = Array.from({ length: 6 }, (_, i) => viewer(`n${i}`, 'ispb', 'north')); // other ISP, same region
  const far = Array.from({ length: 6 }, (_, i) => viewer(`f${i}`, 'ispc', 'south'));
  const big = [...local, ...near, ...far];
  const quarter: NeighbourOptions = { crossIspShare: 0.25, crossIspMinWant: 4 };
  const zero = () => 0;
  const high = () => 0.99;
  const crossCount = (peers: PeerInfo[]) =>
    peers.filter((p) => p.role === 'viewer' && p.isp !== me.isp).length;

  const table: Array<{
    name: string;
    want: number;
    members?: PeerInfo[];
    asker?: { peerId: string; isp?: string; region?: string };
    options?: NeighbourOptions;
    random?: () => number;
    cross: number;
    total: number;
  }> = [
    { name: 'default: 8 × 0.05 rounds up when the draw is low', want: 8, random: zero, cross: 1, total: 8 },
    { name: 'default: and down when it is high', want: 8, random: high, cross: 0, total: 8 },
    { name: 'a quarter of 8 places', want: 8, options: quarter, random: high, cross: 2, total: 8 },
    { name: 'a small top-up stays local', want: 3, options: quarter, random: zero, cross: 0, total: 3 },
    {
      name: 'kept places nobody else can take go back to the ISP',
      want: 8,
      members: [...local, near[0]!],
      options: quarter,
      cross: 1,
      total: 8,
    },
    {
      name: 'other ISPs still fill what the ISP cannot',
      want: 8,
      members: [...local.slice(0, 3), ...near, ...far],
      options: quarter,
      cross: 5,
      total: 8,
    },
    {
      name: 'with a seed, the share is of the viewer places (7 × 0.25 = 1.75)',
      want: 8,
      members: [...big, seed('s1')],
      options: quarter,
      random: high,
      cross: 1,
      total: 8,
    },
    {
      name: 'share 0: strict locality',
      want: 8,
      options: { crossIspShare: 0, crossIspMinWant: 4 },
      random: zero,
      cross: 0,
      total: 8,
    },
  ];

  it.each(table)('$name', (row) => {
    const got = chooseNeighbours(
      row.asker ?? me,
      row.members ?? big,
      row.want,
      [],
      row.random ?? seededRandom(11),
      row.options ?? DEFAULT_NEIGHBOUR_OPTIONS,
    );
    expect(got).toHaveLength(row.total);
    expect(crossCount(got)).toBe(row.cross);
    expect(new Set(got.map((p) => p.peerId)).size).toBe(got.length);
  });

  it('kept places go to the same region first, and the order stays by locality', () => {
    const got = chooseNeighbours(me, big, 8, [], seededRandom(5), { crossIspShare: 0.5, crossIspMinWant: 4 });
    expect(classes(got).map((c) => c[0])).toEqual(['isp+region', 'region']);
    expect(crossCount(got)).toBe(4);
  });

  it('an asker without an ISP hint keeps nothing (every viewer is one class)', () => {
    const got = chooseNeighbours({ peerId: id('me') }, big, 8, [], zero, quarter);
    expect(got).toHaveLength(8);
  });

  it('holds the configured share on average', () => {
    const random = seededRandom(99);
    let cross = 0;
    let places = 0;
    for (let i = 0; i < 4000; i++) {
      const got = chooseNeighbours(me, big, 8, [], random);
      cross += crossCount(got);
      places += got.length;
    }
    expect(cross / places).toBeGreaterThan(0.04);
    expect(cross / places).toBeLessThan(0.06);
  });

  it.each([
    [8, 0.05, 0.39, 1],
    [8, 0.05, 0.41, 0],
    [3, 0.5, 0, 0],
    [4, 0.5, 0.99, 2],
    [10, 0.25, 0.49, 3],
    [10, 0.25, 0.51, 2],
    [8, 2, 0.5, 8],
  ])('crossIspPlaces(%i places, share %f, draw %f) = %i', (places, share, draw, want) => {
    expect(crossIspPlaces(places, { crossIspShare: share, crossIspMinWant: 4 }, () => draw)).toBe(want);
  });
});

describe('TokenBucket', () => {
  it('allows the burst, then the sustained rate', () => {
    let t = 0;
    const b = new TokenBucket(20 / 1000, 40, t);
    let ok = 0;
    for (let i = 0; i < 100; i++) if (b.take(1, t)) ok++;
    expect(ok).toBe(40);
    t += 500; // half a second: 10 tokens
    ok = 0;
    for (let i = 0; i < 100; i++) if (b.take(1, t)) ok++;
    expect(ok).toBe(10);
    t += 60_000; // refills only up to the burst
    ok = 0;
    for (let i = 0; i < 100; i++) if (b.take(1, t)) ok++;
    expect(ok).toBe(40);
  });
});
