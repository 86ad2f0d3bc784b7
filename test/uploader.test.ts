/**
 * Uploader: serving neighbours' requests over fake links on an injected clock. Fake timers
 * keep its re-pump timer from firing on its own; the tests advance the clock and pump.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PeerLink } from '../main/p2p/peer-link';
import { LOW_WATER_BYTES } from '../main/p2p/peer-link';
import { chunkBytes } from '../main/p2p/upload-policy';
import { CHUNK_BYTES, Uploader, type UploaderOptions } from '../main/p2p/uploader';
import { MAX_CHUNK, MsgType, RejectReason, type WireMessage } from '../main/p2p/wire';

type DataMsg = Extract<WireMessage, { type: MsgType.Data }>;

class FakeLink {
  readonly sent: WireMessage[] = [];
  isOpen = true;
  /** Open but its send fails (the data channel threw). */
  failing = false;
  buffered = 0;
  constructor(
    readonly remoteId: string,
    private readonly log?: Array<[string, DataMsg]>,
  ) {}
  send(msg: WireMessage): boolean {
    if (!this.isOpen || this.failing) return false;
    this.sent.push(msg);
    if (msg.type === MsgType.Data) this.log?.push([this.remoteId, msg]);
    return true;
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  get data(): DataMsg[] {
    return this.sent.filter((m): m is DataMsg => m.type === MsgType.Data);
  }
  get rejects(): RejectReason[] {
    return this.sent.flatMap((m) => (m.type === MsgType.Reject ? [m.reason] : []));
  }
  get peer(): PeerLink {
    return this as unknown as PeerLink;
  }
}

const segment = (size: number, fill = 7) => new Uint8Array(size).fill(fill);
let t = 0;
let reqIds = 0;

function uploader(extra: Partial<UploaderOptions> = {}, segments = new Map<number, Uint8Array>()) {
  return new Uploader({
    role: 'viewer',
    copiesPerSegment: 2,
    bytesOf: (seq) => segments.get(seq) ?? null,
    now: () => t,
    rateControl: false,
    ...extra,
  });
}

function ask(up: Uploader, link: FakeLink, seq: number, deadlineMs = 1000, offset = 0): number {
  const reqId = ++reqIds;
  up.request(link.peer, { type: MsgType.Request, reqId, seq, offset, deadlineMs });
  return reqId;
}

/** The honest acknowledgement of chunk `m` (a 20-ms one-way delay), with `extra` fields changed. */
const ackOf = (m: DataMsg, extra: Partial<Extract<WireMessage, { type: MsgType.Ack }>> = {}) => ({
  type: MsgType.Ack as const,
  reqId: m.reqId,
  received: m.offset + m.payload.length,
  echoSentAt: m.sentAt,
  delayMs: 20,
  ...extra,
});

/** Payload bytes sent on a link so far. */
const bytesTo = (l: FakeLink) => l.data.reduce((n, m) => n + m.payload.length, 0);

/** Advances the clock `ms` milliseconds one at a time, pumping at each. */
function pumpFor(up: Uploader, ms: number): void {
  for (let i = 0; i < ms; i++) {
    t += 1;
    up.pump();
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  t = 1_000_000;
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Uploader: requests', () => {
  const serves: Array<[number, number, number[]]> = [
    [1, 0, [0]],
    [CHUNK_BYTES, 0, [0]],
    [CHUNK_BYTES + 1, 0, [0, CHUNK_BYTES]],
    [40_000, 0, [0, CHUNK_BYTES, 2 * CHUNK_BYTES]],
    [40_000, 20_000, [20_000, 20_000 + CHUNK_BYTES]],
  ];
  it.each(serves)('serves %i bytes from offset %i in chunks at %j', (size, offset, offsets) => {
    const bytes = segment(size).map((_, i) => i & 0xff);
    const up = uploader({}, new Map([[5, bytes]]));
    const link = new FakeLink('a');
    const reqId = ask(up, link, 5, 1000, offset);
    expect(link.data.map((m) => [m.reqId, m.seq, m.offset, m.total])).toEqual(
      offsets.map((o) => [reqId, 5, o, size]),
    );
    expect(Buffer.compare(Buffer.concat(link.data.map((m) => m.payload)), bytes.subarray(offset))).toBe(0);
    expect(link.data.every((m) => m.payload.length <= CHUNK_BYTES && m.sentAt === t)).toBe(true);
    expect(up.bytesSent).toBe(size - offset);
  });

  const notHave: Array<[string, number, number]> = [
    ['an unknown segment', 6, 0],
    ['an offset at the end', 5, 100],
    ['an offset past the end', 5, 500],
  ];
  it.each(notHave)('rejects NotHave for %s', (_name, seq, offset) => {
    const up = uploader({}, new Map([[5, segment(100)]]));
    const link = new FakeLink('a');
    const reqId = ask(up, link, seq, 1000, offset);
    expect(link.sent).toEqual([{ type: MsgType.Reject, reqId, reason: RejectReason.NotHave }]);
  });

  it('a seed hands each segment to copiesPerSegment neighbours, then rejects OverCap', () => {
    const up = uploader(
      { role: 'seed', copiesPerSegment: 2 },
      new Map([
        [1, segment(10)],
        [2, segment(10)],
      ]),
    );
    const links = ['a', 'b', 'c'].map((id) => new FakeLink(id));
    for (const l of links) ask(up, l, 1);
    ask(up, links[2]!, 2);
    expect(links.map((l) => l.rejects)).toEqual([[], [], [RejectReason.OverCap]]);
    expect(links[2]!.data.map((m) => m.seq)).toEqual([2]);
  });

  it('a viewer serves any number of copies', () => {
    const up = uploader({ copiesPerSegment: 1 }, new Map([[1, segment(10)]]));
    const links = ['a', 'b', 'c'].map((id) => new FakeLink(id));
    for (const l of links) ask(up, l, 1);
    expect(links.map((l) => l.data.length)).toEqual([1, 1, 1]);
  });

  it('rejects Busy past 16 queued jobs on one link, other links unaffected', () => {
    const up = uploader({}, new Map([[1, segment(10)]]));
    const a = new FakeLink('a');
    a.buffered = LOW_WATER_BYTES; // its data channel is full: jobs queue
    for (let i = 0; i < 17; i++) ask(up, a, 1);
    expect(a.rejects).toEqual([RejectReason.Busy]);
    expect(a.data).toEqual([]);
    const b = new FakeLink('b');
    ask(up, b, 1);
    expect(b.data.length).toBe(1);
    a.buffered = 0;
    up.pump();
    expect(a.data.length).toBe(16);
  });

  // A request refused as Busy must not use up a copy a later neighbour could have had.
  it('a request refused as Busy does not use up one of the seed copies', () => {
    const segments = new Map([...Array(17).keys()].map((s) => [s, segment(10)]));
    const up = uploader({ role: 'seed', copiesPerSegment: 1 }, segments);
    const a = new FakeLink('a');
    a.buffered = LOW_WATER_BYTES;
    for (let seq = 0; seq < 17; seq++) ask(up, a, seq);
    expect(a.rejects).toEqual([RejectReason.Busy]);
    const b = new FakeLink('b');
    ask(up, b, 16);
    expect(b.rejects).toEqual([]);
  });

  // A leech that asks a seed for every new segment and is banned must not have spent its copies.
  it("a seed's copy comes back when its job ends unfinished (cancelled, link dropped or failed)", () => {
    const up = uploader({ role: 'seed', copiesPerSegment: 1 }, new Map([[1, segment(10)]]));
    const [leech, honest] = [new FakeLink('leech'), new FakeLink('honest')];
    leech.buffered = LOW_WATER_BYTES; // nothing leaves yet: the jobs wait in its queue
    const reqId = ask(up, leech, 1);
    ask(up, honest, 1);
    expect(honest.rejects).toEqual([RejectReason.OverCap]);
    up.cancel(leech.peer, reqId);
    ask(up, honest, 1);
    expect(honest.rejects).toEqual([RejectReason.OverCap]);
    expect(honest.data.map((m) => m.seq)).toEqual([1]);
    // Delivered (all sent, no rate control): the copy is spent for good.
    ask(up, leech, 1);
    expect(leech.rejects).toEqual([RejectReason.OverCap]);

    const later = uploader({ role: 'seed', copiesPerSegment: 1 }, new Map([[2, segment(10)]]));
    ask(later, leech, 2);
    later.dropPeer(leech.peer);
    const other = new FakeLink('other');
    ask(later, other, 2);
    expect(other.data.map((m) => m.seq)).toEqual([2]);
  });
});

describe('Uploader: scheduling', () => {
  const order: Array<[string, ((l: PeerLink) => boolean) | undefined, string[]]> = [
    ['most urgent deadline first across links', undefined, ['b:2', 'b:2', 'a:3', 'a:1', 'a:1']],
    ['a leech last whatever its deadline', (l) => l.remoteId === 'b', ['a:3', 'a:1', 'a:1', 'b:2', 'b:2']],
  ];
  it.each(order)('%s', (_name, isLeech, expected) => {
    const log: Array<[string, DataMsg]> = [];
    const segments = new Map([1, 2, 3].map((s) => [s, segment(s === 3 ? 10 : CHUNK_BYTES + 10)]));
    const up = uploader({ isLeech }, segments);
    const a = new FakeLink('a', log);
    const b = new FakeLink('b', log);
    a.buffered = b.buffered = LOW_WATER_BYTES;
    ask(up, a, 1, 5000);
    ask(up, a, 3, 3000);
    ask(up, b, 2, 1000);
    a.buffered = b.buffered = 0;
    up.pump();
    expect(log.map(([id, m]) => `${id}:${m.seq}`)).toEqual(expected);
  });

  it("a closed link waits; a failed send drops the link's jobs", () => {
    const up = uploader({}, new Map([[1, segment(10)]]));
    const closed = new FakeLink('a');
    const failing = new FakeLink('b');
    closed.isOpen = false;
    failing.failing = true;
    ask(up, closed, 1);
    ask(up, failing, 1);
    expect(up.bytesSent).toBe(0);
    closed.isOpen = true;
    failing.failing = false;
    up.pump();
    expect([closed.data.length, failing.data.length]).toEqual([1, 0]);
  });

  it('cancel stops a job mid-way', () => {
    const up = uploader({ capBytesPerMs: 20 }, new Map([[1, segment(10 * CHUNK_BYTES)]]));
    const a = new FakeLink('a');
    const b = new FakeLink('b');
    const stopped = ask(up, a, 1);
    ask(up, b, 1);
    const before = a.data.length;
    expect(before).toBeGreaterThan(0);
    up.cancel(a.peer, stopped);
    for (let i = 0; i < 100; i++) {
      t += 100;
      up.pump();
    }
    expect(a.data.length).toBe(before);
    expect(b.data.length).toBe(10);
  });

  it('a segment freed under a job mid-way (evicted) ends the job with NotHave, no empty chunk sent', () => {
    const seg = segment(10 * CHUNK_BYTES);
    const up = uploader({ capBytesPerMs: 20 }, new Map([[1, seg]]));
    const a = new FakeLink('a');
    ask(up, a, 1);
    const before = a.data.length;
    expect(before).toBeGreaterThan(0);
    structuredClone(seg.buffer, { transfer: [seg.buffer] }); // what the cache's freeNow does
    for (let i = 0; i < 20; i++) {
      t += 100;
      up.pump();
    }
    expect(a.data.length).toBe(before);
    expect(a.data.every((m) => m.total === 10 * CHUNK_BYTES)).toBe(true);
    expect(a.rejects).toEqual([RejectReason.NotHave]);
  });

  const caps = [20, 100, 400];
  it.each(caps)('the upload cap %i bytes/ms bounds what leaves over time', (cap) => {
    const up = uploader({ capBytesPerMs: cap }, new Map([[1, segment(8 << 20)]]));
    const links = [new FakeLink('a'), new FakeLink('b')];
    for (const l of links) ask(up, l, 1, 100_000);
    const start = up.bytesSent;
    const counts = () => links.map((l) => l.data.length);
    const [a0, b0] = counts();
    expect(start).toBeLessThanOrEqual(3 * CHUNK_BYTES); // the burst, one chunk in debt
    for (let elapsed = 0; elapsed < 10_000; elapsed += 10) {
      t += 10;
      up.pump();
    }
    const sent = up.bytesSent - start;
    expect(sent).toBeGreaterThanOrEqual(cap * 10_000 - CHUNK_BYTES);
    expect(sent).toBeLessThanOrEqual(cap * 10_000 + CHUNK_BYTES);
    // Past the first burst (all a's: b had not asked yet), the links take turns.
    const [a, b] = counts();
    expect(Math.abs(a! - a0! - (b! - b0!))).toBeLessThanOrEqual(1);
  });

  it('wakes itself on its timer for what the cap held back', () => {
    const up = uploader({ bytesOf: () => segment(1 << 20), now: () => Date.now(), capBytesPerMs: 50 });
    ask(up, new FakeLink('a'), 1, 100_000);
    const start = up.bytesSent;
    vi.advanceTimersByTime(5000);
    expect(up.bytesSent - start).toBeGreaterThanOrEqual(50 * 5000 - CHUNK_BYTES);
    expect(up.bytesSent - start).toBeLessThanOrEqual(50 * 5000 + CHUNK_BYTES);
  });

  it('brings its timer forward when retiring bytes free the window before the guard it set fires', () => {
    const up = uploader({ bytesOf: () => segment(1 << 20), now: () => Date.now(), rateControl: true });
    const a = new FakeLink('a');
    const b = new FakeLink('b');
    const silent = ask(up, a, 1, 100_000); // fills the window; no ack comes: a 1.5-s guard
    expect(a.data.length).toBeGreaterThan(0);
    up.cancel(a.peer, silent); // its bytes drain within a round trip (100 ms, none measured yet)
    ask(up, b, 2, 100_000);
    expect(b.data.length).toBe(0);
    vi.advanceTimersByTime(300);
    expect(b.data.length).toBeGreaterThan(0);
  });
});

describe('Uploader: rate control', () => {
  /**
   * A path with a 40 ms round trip plus queueing: every chunk is acknowledged 40 ms +
   * `queueing(time)` after it left, with a one-way delay of 20 ms plus `queueing(time)`.
   * Returns the bytes sent in each second (and fills `chunkSizes`, when given, with each
   * second's chunk sizes).
   */
  function run(seconds: number, queueing: (elapsedMs: number) => number, chunkSizes?: number[][]): number[] {
    const t0 = t;
    const up = uploader({ rateControl: true }, new Map([[1, new Uint8Array(64 << 20)]]));
    const link = new FakeLink('a');
    ask(up, link, 1, 600_000);
    let acked = 0;
    const perSecond: number[] = [];
    const sent = link.sent as DataMsg[];
    for (let elapsed = 1; elapsed <= seconds * 1000; elapsed++) {
      t = t0 + elapsed;
      // Queueing delays the data on its way and so the ack: the round trip grows with it.
      for (
        ;
        acked < sent.length && sent[acked]!.sentAt + 40 + queueing(sent[acked]!.sentAt - t0) <= t;
        acked++
      ) {
        const m = sent[acked]!;
        up.ack(link.peer, {
          type: MsgType.Ack,
          reqId: m.reqId,
          received: m.offset + m.payload.length,
          echoSentAt: m.sentAt,
          delayMs: 20 + queueing(m.sentAt - t0),
        });
      }
      up.pump();
      if (elapsed % 1000 === 0) {
        perSecond.push(up.bytesSent - perSecond.reduce((a, b) => a + b, 0));
        chunkSizes?.push(sent.slice(chunkSizes.flat().length).map((m) => m.payload.length));
      }
    }
    return perSecond;
  }

  it('starts within the initial window and grows it while queueing delay stays low', () => {
    const rates = run(3, () => 0);
    const initialWindowPerSecond = ((4 * CHUNK_BYTES) / 40) * 1000;
    expect(rates[0]).toBeGreaterThan(initialWindowPerSecond);
    expect(rates[2]).toBeGreaterThan(rates[0]! * 1.5);
  });

  it('shrinks the window when queueing delay rises past the target', () => {
    const congested = run(10, (ms) => (ms < 2000 ? 0 : 200));
    expect(congested[1]).toBeGreaterThan(congested[0]!);
    // LEDBAT shrinks linearly per round trip (now 40 + 200 ms): falling every second ...
    for (let i = 3; i < 6; i++) expect(congested[i + 1]).toBeLessThan(congested[i]!);
    expect(congested[9]).toBeLessThan(congested[1]! / 4);
    // ... down to the minimum window: two chunks per round trip at most.
    expect(congested[9]).toBeLessThanOrEqual(((2 * CHUNK_BYTES) / 240) * 1000 * 1.1);
  });

  it('sends larger chunks while the window is large, 16 KiB ones once congestion shrinks it', () => {
    const sizes: number[][] = [];
    run(10, (ms) => (ms < 2000 ? 0 : 200), sizes);
    expect(Math.max(...sizes[1]!)).toBeGreaterThan(CHUNK_BYTES);
    expect(Math.max(...sizes[1]!)).toBeLessThanOrEqual(MAX_CHUNK);
    expect(sizes[9]!.length).toBeGreaterThan(0);
    expect(sizes[9]!.every((n) => n === CHUNK_BYTES)).toBe(true);
  });

  it("a given-up job's unacknowledged bytes keep their place in the window until they drain", () => {
    const up = uploader(
      { rateControl: true },
      new Map([
        [1, segment(64 * CHUNK_BYTES)],
        [2, segment(64 * CHUNK_BYTES)],
      ]),
    );
    const a = new FakeLink('a');
    const b = new FakeLink('b');
    const given = ask(up, a, 1, 60_000);
    const first = a.data[0]!;
    t += 40; // a 40-ms round trip
    up.ack(a.peer, ackOf(first));
    const onTheWay = bytesTo(a) - first.payload.length;
    expect(onTheWay).toBeGreaterThanOrEqual(3 * CHUNK_BYTES);
    // The neighbour gives the transfer up (as a slow one near its deadline): its chunks are
    // still queued on the path and nobody acknowledges them now.
    up.cancel(a.peer, given);
    ask(up, b, 2, 60_000);
    pumpFor(up, 30);
    expect(bytesTo(b)).toBe(0);
    // A round trip after they were sent they have drained: the window is free again (paced).
    pumpFor(up, 70);
    expect(bytesTo(b)).toBeGreaterThanOrEqual(onTheWay - CHUNK_BYTES);
  });

  it('a job that waited long in the queue is not taken for lost as soon as its first chunks leave', () => {
    const up = uploader(
      { rateControl: true },
      new Map([
        [1, new Uint8Array(64 << 20)],
        [2, segment(256 * CHUNK_BYTES)],
      ]),
    );
    const a = new FakeLink('a');
    const b = new FakeLink('b');
    const urgent = ask(up, a, 1, 1000);
    ask(up, b, 2, 60_000); // waits behind the earlier deadline, which has the window
    let acked = 0;
    for (let i = 0; i < 2000; i++) {
      t += 1;
      for (const sent = a.data; acked < sent.length && sent[acked]!.sentAt + 40 <= t; acked++) {
        up.ack(a.peer, ackOf(sent[acked]!));
      }
      up.pump();
    }
    expect(b.data.length).toBe(0);
    const window = a.data.slice(acked).reduce((n, m) => n + m.payload.length, 0); // a's flight fills it
    up.cancel(a.peer, urgent);
    // Queued two seconds ago, b's job now fills the window, then waits for its acks (none come
    // here: a silent link is given up only after the ack timeout, 1.5 s from its first send).
    pumpFor(up, 200);
    const firstWindow = bytesTo(b);
    expect(firstWindow).toBeGreaterThan(0);
    expect(firstWindow).toBeLessThanOrEqual(window + CHUNK_BYTES);
    pumpFor(up, 1000);
    expect(bytesTo(b)).toBe(firstWindow);
  });
});

describe('Uploader: the most urgent job first', () => {
  /**
   * Two links asking for 1 MiB each, rate control on, 40 ms round trips; `urgent` needs its
   * segment in 600 ms, `later` in 3 s. Only the links in `acking` acknowledge what they get.
   * Returns the bytes each link got by `ms`, and when `urgent` had all of its segment.
   */
  function race(ms: number, acking: readonly string[]) {
    const t0 = t;
    const up = uploader({ rateControl: true }, new Map([[1, segment(1 << 20)]]));
    const urgent = new FakeLink('urgent');
    const later = new FakeLink('later');
    ask(up, later, 1, 3000);
    ask(up, urgent, 1, 600);
    const acked = new Map<FakeLink, number>([
      [urgent, 0],
      [later, 0],
    ]);
    let urgentDoneAt: number | null = null;
    for (let elapsed = 1; elapsed <= ms; elapsed++) {
      t = t0 + elapsed;
      for (const link of [urgent, later]) {
        if (!acking.includes(link.remoteId)) continue;
        const data = link.data;
        let k = acked.get(link)!;
        for (; k < data.length && data[k]!.sentAt + 40 <= t; k++) {
          const m = data[k]!;
          const ack = { reqId: m.reqId, received: m.offset + m.payload.length, echoSentAt: m.sentAt };
          up.ack(link.peer, { type: MsgType.Ack, ...ack, delayMs: 20 });
        }
        acked.set(link, k);
      }
      up.pump();
      const got = (l: FakeLink) => l.data.reduce((n, m) => n + m.payload.length, 0);
      if (urgentDoneAt === null && got(urgent) >= 1 << 20) urgentDoneAt = elapsed;
    }
    const bytes = (l: FakeLink) => l.data.reduce((n, m) => n + m.payload.length, 0);
    return { urgent: bytes(urgent), later: bytes(later), urgentDoneAt };
  }

  it('gives the whole window to the earliest deadline while its acks flow', () => {
    const r = race(3000, ['urgent', 'later']);
    expect(r.urgentDoneAt).not.toBeNull();
    // By the time the urgent segment is out, the later one got little beside it.
    const beside = race(r.urgentDoneAt!, ['urgent', 'later']);
    expect(beside.later).toBeLessThan(beside.urgent / 4);
  });

  it('holds a link that does not acknowledge to an equal share: the others go on', () => {
    const r = race(1000, ['later']);
    expect(r.later).toBeGreaterThan(r.urgent);
    expect(r.urgentDoneAt).toBeNull();
  });
});

describe('Uploader: acknowledgements that lie', () => {
  it('ignores late acks of a job that ended, without holding them against the neighbour', () => {
    const abuse: string[] = [];
    const up = uploader({ onAbuse: (_l, why) => abuse.push(why) }, new Map([[1, segment(3 * CHUNK_BYTES)]]));
    const link = new FakeLink('honest');
    ask(up, link, 1);
    up.pump();
    const chunks = link.data;
    expect(chunks.length).toBe(3); // rate control off: the job ends when everything is sent
    for (let i = 0; i < 40; i++) for (const m of chunks) up.ack(link.peer, ackOf(m));
    expect(abuse).toEqual([]);
  });

  /** A rate-controlled uploader with one long job under way on `name`'s link. */
  function liveJob(name: string) {
    const abuse: string[] = [];
    const up = uploader(
      { rateControl: true, onAbuse: (_l, why) => abuse.push(why) },
      new Map([[1, segment(64 * CHUNK_BYTES)]]),
    );
    const link = new FakeLink(name);
    ask(up, link, 1, 60_000);
    up.pump();
    return { abuse, up, link, sent: [...link.data] };
  }

  it('takes repeated and out-of-order acks of a live job as stale, not forged', () => {
    const { abuse, up, link, sent } = liveJob('reordering');
    expect(sent.length).toBeGreaterThan(1);
    // The newest ack first, then every older one, each many times: all stale after the first.
    for (let i = 0; i < 20; i++) for (const m of [...sent].reverse()) up.ack(link.peer, ackOf(m));
    expect(abuse).toEqual([]);
  });

  it('reports a neighbour after a few acks of bytes never sent or of a time it never sent at', () => {
    for (const lie of [{ received: 1 << 30 }, { echoSentAt: 12345 }]) {
      const { abuse, up, link, sent } = liveJob('liar');
      const forged = ackOf(sent[0]!, { ...lie, delayMs: 5000 });
      for (let i = 0; i < 3; i++) up.ack(link.peer, forged);
      expect(abuse).toEqual([]);
      up.ack(link.peer, forged);
      expect(abuse).toEqual(['forged acknowledgements']);
      // Reported once, however long it goes on.
      for (let i = 0; i < 40; i++) up.ack(link.peer, forged);
      expect(abuse).toEqual(['forged acknowledgements']);
    }
  });
});

describe('chunkBytes', () => {
  it.each([
    ['no rate control', null, null, CHUNK_BYTES],
    ['10 Mbit/s: 16 KiB is 13 ms of it', 1250, null, CHUNK_BYTES],
    ['25 Mbit/s: 13 ms of it, whole KiB', 3125, null, 39 * 1024],
    ['a far faster path: the largest wire chunk', 100_000, null, MAX_CHUNK],
    ['a cap of 200 B/ms: a quarter second of it', 100_000, 200, 48 * 1024],
    ['a cap of 20 B/ms: never below 16 KiB', 100_000, 20, CHUNK_BYTES],
  ])('%s', (_name, rate, cap, bytes) => {
    expect(chunkBytes(rate, cap)).toBe(bytes);
  });
});
