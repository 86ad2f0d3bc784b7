/**
 * PeerSource: the swarm's peer node as a segment source, over a fake swarm that records
 * what it was asked.
 */
import { describe, expect, it, vi } from 'vitest';
import type { PeerRole } from '../common/tracker-protocol';
import { PeerSource } from '../main/core/source/peer-source';
import type { FetchRequest } from '../main/core/source/segment-source';
import type { Swarm } from '../main/p2p/swarm';

function fakeSwarm(opts: { pick?: string | null; neighbours?: Array<{ id: string; role: PeerRole }> } = {}) {
  const transfer = { received: 1200, startedAt: 10, lastDataAt: 20 };
  const node = {
    peerId: 'm-self',
    fetch: vi.fn((_seq: number, _size: number, _holders: Iterable<string>, _deadline: number) =>
      opts.pick === undefined ? 'p-1' : opts.pick,
    ),
    cancel: vi.fn(),
    transfer: vi.fn((seq: number) => (seq === 7 ? transfer : undefined)),
    connected: vi.fn(() => opts.neighbours ?? []),
    announce: vi.fn(),
    ban: vi.fn(),
  };
  const swarm = { node, close: vi.fn() };
  return { swarm, node, transfer, source: new PeerSource(swarm as unknown as Swarm) };
}

const request = (extra: Partial<FetchRequest> = {}): FetchRequest => ({
  seq: 7,
  deadline: 123_456,
  size: 90_000,
  liveEdge: false,
  holders: new Set(['p-1', 'p-2']),
  ...extra,
});

describe('PeerSource.start', () => {
  const cases: Array<[string, Partial<FetchRequest>, string | null, { peer: string } | null, boolean]> = [
    ['asks the node and names the neighbour it chose', {}, 'p-2', { peer: 'p-2' }, true],
    ['no neighbour can be asked now', {}, null, null, true],
    ['size not listed yet (live edge)', { size: null, liveEdge: true }, 'p-1', null, false],
    ['nobody holds it', { holders: new Set() }, 'p-1', null, false],
  ];
  it.each(cases)('%s', (_name, extra, pick, expected, asked) => {
    const { node, source } = fakeSwarm({ pick });
    const req = request(extra);
    expect(source.start(req)).toEqual(expected);
    if (asked) expect(node.fetch).toHaveBeenCalledExactlyOnceWith(7, 90_000, req.holders, 123_456);
    else expect(node.fetch).not.toHaveBeenCalled();
  });
});

describe('PeerSource: delegation', () => {
  it('cancel, progress, announce, ban and close go to the swarm', () => {
    const { swarm, node, transfer, source } = fakeSwarm();
    expect(source.name).toBe('peer');
    expect(source.node).toBe(node);
    source.cancel(7, true);
    source.cancel(8, false);
    expect(node.cancel.mock.calls).toEqual([
      [7, true],
      [8, false],
    ]);
    expect(source.progress(7)).toBe(transfer);
    expect(source.progress(8)).toBeUndefined();
    const holders = new Set(['n1']);
    source.announce(9, holders);
    expect(node.announce).toHaveBeenCalledExactlyOnceWith(9, holders);
    source.ban('p-3', 'bad data');
    expect(node.ban).toHaveBeenCalledExactlyOnceWith('p-3', 'bad data');
    source.close();
    expect(swarm.close).toHaveBeenCalledOnce();
  });
});

describe('PeerSource.firstCopyMembers', () => {
  const cases: Array<[string, Array<{ id: string; role: PeerRole }>, string[]]> = [
    ['alone', [], ['m-self']],
    [
      'itself and its viewer neighbours, sorted',
      [
        { id: 'z-9', role: 'viewer' },
        { id: 'a-1', role: 'viewer' },
      ],
      ['a-1', 'm-self', 'z-9'],
    ],
    [
      'none when a seed is connected',
      [
        { id: 'a-1', role: 'viewer' },
        { id: 's-1', role: 'seed' },
      ],
      [],
    ],
  ];
  it.each(cases)('%s', (_name, neighbours, expected) => {
    const { source } = fakeSwarm({ neighbours });
    expect(source.firstCopyMembers()).toEqual(expected);
  });

  it('is made again only when the node gives a new neighbour list', () => {
    const neighbours = [{ id: 'b-2', role: 'viewer' as PeerRole }];
    const { source, node } = fakeSwarm({ neighbours });
    const first = source.firstCopyMembers();
    expect(source.firstCopyMembers()).toBe(first);
    node.connected.mockReturnValue([...neighbours, { id: 'a-1', role: 'viewer' }]);
    expect(source.firstCopyMembers()).toEqual(['a-1', 'b-2', 'm-self']);
    node.connected.mockReturnValue([{ id: 's-1', role: 'seed' }]);
    expect(source.firstCopyMembers()).toEqual([]);
  });
});
