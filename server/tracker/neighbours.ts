/**
 * Neighbour suggestions, as a pure function of the sub-room's members and a random source.
 *
 * - never the asker itself nor anything in `exclude`;
 * - at most one seed, placed first: when the asker wants 4 or more neighbours (it is starting
 *   out or has lost many), or when no viewer is available at all;
 * - then viewers by locality: same ISP and region, same ISP, same region, the rest
 *   (the P4P direction: keep traffic inside an ISP's network);
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

export function chooseNeighbours<P extends PeerInfo>(
  asker: Asker,
  members: Iterable<P>,
  want: number,
  exclude: Iterable<string>,
  random: RandomSource,
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
  for (const c of classes) {
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
