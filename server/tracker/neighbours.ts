/**
 * Neighbour suggestions, as a pure function of the sub-room's members and a random source.
 *
 * - never the asker itself nor anything in `exclude`;
 * - at most one seed, placed first: when the asker wants 4 or more neighbours (it is starting
 *   out or has lost many), or when no viewer is available at all;
 * - then viewers by locality: same ISP and region, same ISP, same region, the rest
 *   (the P4P direction: keep traffic inside an ISP's network);
 * - but a small share of the viewer places is kept for viewers of other ISPs, for robustness:
 *   a neighbourhood made of one ISP only would be cut off when that ISP's peering or its few
 *   holders of a segment fail, and first copies that enter the room elsewhere could reach it only
 *   through the CDN. An asker with a known ISP that wants at least `crossIspMinWant` viewers gets
 *   `crossIspShare` of those places from other ISPs (rounded at random, so the share holds on
 *   average: 8 places × 0.05 = one cross-ISP place for 40 % of such askers); places nobody
 *   from another ISP can take go back to the same ISP, and other ISPs still fill whatever the
 *   same ISP cannot;
 * - random order inside each class, from the injected `random` (tests seed it).
 */
import type { PeerInfo } from '../../common/tracker-protocol';

export type RandomSource = () => number;

export interface Asker {
  peerId: string;
  isp?: string;
  region?: string;
}

/** A seed is offered only to askers that want at least this many neighbours. */
export const SEED_MIN_WANT = 4;

export interface NeighbourOptions {
  /** Share of an asker's viewer places kept for viewers of other ISPs (0 = strict locality). */
  crossIspShare: number;
  /** Viewer places an asker must want before any is kept for another ISP. */
  crossIspMinWant: number;
}

/**
 * One cross-ISP link in about 20 (the target is ≤ 10 % of peer bytes across ISPs), only on
 * asks for 4 or more viewers (a new viewer, or one that lost many): small top-ups stay local.
 */
export const DEFAULT_NEIGHBOUR_OPTIONS: NeighbourOptions = { crossIspShare: 0.05, crossIspMinWant: 4 };

function rank(asker: Asker, peer: PeerInfo): number {
  const sameIsp = asker.isp !== undefined && peer.isp === asker.isp;
  const sameRegion = asker.region !== undefined && peer.region === asker.region;
  return (sameIsp ? 2 : 0) + (sameRegion ? 1 : 0);
}

/** Takes up to `n` items from `list` in random order (partial Fisher–Yates; reorders `list`). */
function takeRandom<T>(list: T[], n: number, random: RandomSource): T[] {
  const out: T[] = [];
  for (let i = 0; i < list.length && out.length < n; i++) {
    const j = i + Math.min(list.length - i - 1, Math.floor(random() * (list.length - i)));
    const tmp = list[i]!;
    list[i] = list[j]!;
    list[j] = tmp;
    out.push(list[i]!);
  }
  return out;
}

/** Places kept for other ISPs out of `places` viewer places: the share, rounded at random. */
export function crossIspPlaces(places: number, options: NeighbourOptions, random: RandomSource): number {
  if (places < options.crossIspMinWant || !(options.crossIspShare > 0)) return 0;
  const exact = places * Math.min(1, options.crossIspShare);
  const whole = Math.floor(exact);
  return whole + (random() < exact - whole ? 1 : 0);
}

export function chooseNeighbours<P extends PeerInfo>(
  asker: Asker,
  members: Iterable<P>,
  want: number,
  exclude: Iterable<string>,
  random: RandomSource,
  options: NeighbourOptions = DEFAULT_NEIGHBOUR_OPTIONS,
): P[] {
  if (want <= 0) return [];
  const skip = new Set(exclude);
  skip.add(asker.peerId);
  const seeds: P[] = [];
  const classes: P[][] = [[], [], [], []];
  for (const peer of members) {
    if (skip.has(peer.peerId)) continue;
    if (peer.role === 'seed') seeds.push(peer);
    else classes[3 - rank(asker, peer)]!.push(peer);
  }
  const viewers = classes.reduce((n, c) => n + c.length, 0);
  const out: P[] = [];
  if (seeds.length > 0 && (want >= SEED_MIN_WANT || viewers === 0)) {
    out.push(...takeRandom(seeds, 1, random));
  }
  // Classes 0 and 1 share the asker's ISP, 2 and 3 do not (an asker without an ISP has no local
  // class, so nothing is kept for others).
  const places = want - out.length;
  const others = classes[2]!.length + classes[3]!.length;
  const kept =
    asker.isp === undefined || others === 0 ? 0 : Math.min(others, crossIspPlaces(places, options, random));
  const localWant = out.length + places - kept;
  for (const c of classes.slice(0, 2)) {
    if (out.length >= localWant) break;
    out.push(...takeRandom(c, localWant - out.length, random));
  }
  // The kept places, and any the same ISP could not fill. Local classes need no second visit:
  // either they ran out, or the places left are the kept ones, which other ISPs can fill.
  for (const c of classes.slice(2)) {
    if (out.length >= want) break;
    out.push(...takeRandom(c, want - out.length, random));
  }
  return out;
}

/** A small seeded PRNG (mulberry32) for tests and reproducible runs. */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
