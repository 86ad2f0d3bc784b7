import { describe, expect, it } from 'vitest';
import {
  chooseNeighbour,
  failingNeighbours,
  LOOKUP_MAX_MS,
  LOOKUP_MIN_MS,
  type NeighbourView,
  neighbourScore,
  nextLookupDelayMs,
  PROBE_SLACK_MS,
  type Refusal,
  refusalBackoffMs,
  UNREACHABLE_BACKOFF_MAX_MS,
  unreachableBackoffMs,
  worstNeighbour,
} from '../main/p2p/neighbour-policy';

const peer = (id: string, extra: Partial<NeighbourView> = {}): NeighbourView => ({
  id,
  role: 'viewer',
  inflight: 0,
  bytesPerMs: null,
  successes: 0,
  failures: 0,
  backoffUntil: 0,
  ...extra,
});

describe('neighbour choice', () => {
  const now = 1000;
  it('asks the fastest reliable neighbour', () => {
    const pick = chooseNeighbour(
      now,
      [peer('a', { bytesPerMs: 100, successes: 5 }), peer('b', { bytesPerMs: 900, successes: 5 })],
      2,
    );
    expect(pick?.id).toBe('b');
  });
  it('tries an unmeasured neighbour over a slow one', () => {
    expect(chooseNeighbour(now, [peer('slow', { bytesPerMs: 50, successes: 4 }), peer('new')], 2)?.id).toBe(
      'new',
    );
  });
  it('discounts unreliable neighbours and busy ones', () => {
    const flaky = peer('flaky', { bytesPerMs: 1000, successes: 1, failures: 9 });
    const steady = peer('steady', { bytesPerMs: 400, successes: 9 });
    expect(chooseNeighbour(now, [flaky, steady], 2)?.id).toBe('steady');
    const busy = peer('busy', { bytesPerMs: 1000, successes: 9, inflight: 1 });
    const idle = peer('idle', { bytesPerMs: 700, successes: 9 });
    expect(chooseNeighbour(now, [busy, idle], 2)?.id).toBe('idle');
  });
  it('skips neighbours in back-off or at their in-flight limit', () => {
    expect(
      chooseNeighbour(now, [peer('a', { backoffUntil: now + 10 }), peer('b', { inflight: 2 })], 2),
    ).toBeNull();
    expect(chooseNeighbour(now, [peer('a', { backoffUntil: now - 1 })], 2)?.id).toBe('a');
  });
  const probes: Array<[string, NeighbourView[], number, string | null]> = [
    [
      'an untried viewer first when the deadline leaves room',
      [peer('fast', { bytesPerMs: 5000, successes: 9 }), peer('new')],
      PROBE_SLACK_MS,
      'new',
    ],
    [
      'the measured best when the deadline is near',
      [peer('fast', { bytesPerMs: 5000, successes: 9 }), peer('new')],
      PROBE_SLACK_MS - 1,
      'fast',
    ],
    [
      'an untried viewer before an untried seed',
      [peer('s', { role: 'seed' }), peer('v')],
      PROBE_SLACK_MS,
      'v',
    ],
    [
      'an untried seed before measured viewers',
      [peer('fast', { bytesPerMs: 5000, successes: 9 }), peer('s', { role: 'seed' })],
      PROBE_SLACK_MS,
      's',
    ],
    [
      'one already asked is no longer untried',
      [peer('fast', { bytesPerMs: 5000, successes: 9 }), peer('asked', { inflight: 1 })],
      PROBE_SLACK_MS,
      'fast',
    ],
    [
      'one that failed is no longer untried',
      [peer('fast', { bytesPerMs: 5000, successes: 9 }), peer('failed', { failures: 1 })],
      PROBE_SLACK_MS,
      'fast',
    ],
    [
      'an untried one in back-off waits',
      [peer('new', { backoffUntil: 2000 }), peer('fast', { bytesPerMs: 5000, successes: 9 })],
      PROBE_SLACK_MS,
      'fast',
    ],
  ];
  it.each(probes)('probing new neighbours: %s', (_name, holders, slack, want) => {
    expect(chooseNeighbour(now, holders, 2, slack)?.id ?? null).toBe(want);
  });
  it('prefers a viewer to a seed of the same quality', () => {
    expect(chooseNeighbour(now, [peer('s', { role: 'seed' }), peer('v')], 2)?.id).toBe('v');
    expect(neighbourScore(peer('s', { role: 'seed' }))).toBeLessThan(neighbourScore(peer('v')));
  });
});

describe('links that never opened', () => {
  // Previous back-off (null: first failure) -> the next one.
  const table: Array<[number | null, number]> = [
    [null, 3000],
    [3000, 30_000],
    [30_000, 60_000],
    [120_000, 240_000],
    [240_000, UNREACHABLE_BACKOFF_MAX_MS],
    [UNREACHABLE_BACKOFF_MAX_MS, UNREACHABLE_BACKOFF_MAX_MS],
  ];
  it.each(table)(
    'after a back-off of %s ms the next is %i ms: one quick retry, then long waits',
    (prev, want) => {
      expect(unreachableBackoffMs(prev)).toBe(want);
    },
  );
});

describe('refusals', () => {
  const now = 1000;
  const table: Array<[Refusal, number, number]> = [
    ['not-have', 0, 0],
    ['busy', 0, 400],
    ['over-cap', 1, 1000],
    ['over-cap', 2, 2000],
    ['over-cap', 3, 4000],
    ['over-cap', 4, 8000],
    ['over-cap', 9, 8000],
  ];
  it.each(table)('%s (%i in a row) backs off %i ms', (refusal, streak, want) => {
    expect(refusalBackoffMs(refusal, streak)).toBe(want);
  });
  it('a seed that turned us away is not asked again within its back-off; a viewer holder is', () => {
    const seed = peer('s', {
      role: 'seed',
      bytesPerMs: 5000,
      successes: 3,
      backoffUntil: now + refusalBackoffMs('over-cap', 1),
    });
    expect(chooseNeighbour(now, [seed], 2)).toBeNull();
    expect(chooseNeighbour(now, [seed, peer('v', { bytesPerMs: 100, successes: 1 })], 2)?.id).toBe('v');
    expect(chooseNeighbour(now + 1000, [seed], 2)?.id).toBe('s');
  });
});

describe('competing neighbours', () => {
  const good = (id: string) => peer(id, { bytesPerMs: 800, successes: 10 });
  it('replaces a neighbour far below the median once it had a fair trial', () => {
    const list = [
      good('a'),
      good('b'),
      good('c'),
      peer('bad', { bytesPerMs: 20, successes: 2, failures: 6 }),
    ];
    expect(worstNeighbour(list, 4)?.id).toBe('bad');
  });
  it('keeps everyone while the set is not full or the weak one is untried', () => {
    expect(
      worstNeighbour([good('a'), good('b'), peer('bad', { bytesPerMs: 1, successes: 0, failures: 5 })], 4),
    ).toBeNull();
    expect(worstNeighbour([good('a'), good('b'), good('c'), peer('new')], 4)).toBeNull();
  });
  it('never replaces a seed for being a seed', () => {
    const list = [
      good('a'),
      good('b'),
      good('c'),
      peer('seed', { role: 'seed', bytesPerMs: 10, successes: 5, failures: 0 }),
    ];
    expect(worstNeighbour(list, 4)).toBeNull();
  });
});

describe('failing neighbours', () => {
  it('drops those that never delivered after a fair number of tries, seeds included', () => {
    const list = [
      peer('good', { successes: 5, failures: 10 }),
      peer('new', { failures: 3 }),
      peer('liar', { failures: 4 }),
      peer('fake-seed', { role: 'seed', failures: 6 }),
    ];
    expect(failingNeighbours(list).map((n) => n.id)).toEqual(['liar', 'fake-seed']);
  });
});

describe('tracker lookups', () => {
  it.each([
    // last wait, neighbours the lookup added, next wait
    [0, 0, LOOKUP_MIN_MS],
    [LOOKUP_MIN_MS, 0, 2 * LOOKUP_MIN_MS],
    [2000, 0, 4000],
    [4000, 0, LOOKUP_MAX_MS],
    [LOOKUP_MAX_MS, 0, LOOKUP_MAX_MS],
    [LOOKUP_MAX_MS, 1, LOOKUP_MIN_MS],
    [0, 3, LOOKUP_MIN_MS],
  ])('after a wait of %i ms and %i added, waits %i ms', (last, added, next) => {
    expect(nextLookupDelayMs(last, added)).toBe(next);
  });
});
