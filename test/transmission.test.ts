/**
 * Transmission control as pure functions on a simulated clock: the LEDBAT window against a
 * bottleneck link with a queue, the upload budget, and the rate meter.
 */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../common/token-bucket';
import { DelayTracker, Ledbat } from '../main/p2p/ledbat';
import { kbpsToBytesPerMs, RateMeter } from '../main/p2p/rate';

const MSS = 32 * 1024;

interface LinkSim {
  /** Bottleneck rate (bytes/ms) over time. */
  capacity: (t: number) => number;
  baseDelayMs: number;
}

/**
 * Sends MSS chunks whenever the window allows, through a FIFO bottleneck; each chunk's ack
 * returns with its one-way delay (base + time spent queued). Returns per-ms traces.
 */
function simulate(sim: LinkSim, ms: number, ledbat = new Ledbat({ mss: MSS, targetMs: 60 })) {
  const delays = new DelayTracker();
  let flight = 0;
  let queue = 0; // bytes waiting at the bottleneck
  const inQueue: Array<{ bytes: number; enq: number }> = [];
  const acks: Array<{ at: number; bytes: number; delay: number; sentAt: number }> = [];
  const trace: Array<{ t: number; cwnd: number; queueMs: number; delivered: number }> = [];
  let delivered = 0;
  for (let t = 0; t < ms; t++) {
    while (flight + MSS <= ledbat.cwnd) {
      inQueue.push({ bytes: MSS, enq: t });
      queue += MSS;
      flight += MSS;
    }
    let budget = sim.capacity(t);
    while (budget > 0 && inQueue.length) {
      const head = inQueue[0]!;
      const take = Math.min(head.bytes, budget);
      head.bytes -= take;
      budget -= take;
      queue -= take;
      if (head.bytes === 0) {
        inQueue.shift();
        const delay = sim.baseDelayMs + (t - head.enq);
        acks.push({ at: t + sim.baseDelayMs, bytes: MSS, delay, sentAt: head.enq });
        delivered += MSS;
      }
    }
    for (let i = 0; i < acks.length; ) {
      const a = acks[i]!;
      if (a.at > t) {
        i++;
        continue;
      }
      acks.splice(i, 1);
      const before = flight;
      flight -= a.bytes;
      delays.add(a.delay, t);
      ledbat.onAck(t, a.bytes, delays.queueingDelayMs(), before, t - a.sentAt);
    }
    trace.push({ t, cwnd: ledbat.cwnd, queueMs: queue / sim.capacity(t), delivered });
  }
  return { trace, ledbat };
}

function throughput(trace: Array<{ t: number; delivered: number }>, from: number, to: number): number {
  return (trace[to]!.delivered - trace[from]!.delivered) / (to - from);
}

describe('LEDBAT window', () => {
  it('fills a link to its capacity while keeping the queue near the target delay', () => {
    const cap = 1250; // 10 Mbit/s
    const { trace } = simulate({ capacity: () => cap, baseDelayMs: 20 }, 20_000);
    const rate = throughput(trace, 10_000, 19_999);
    expect(rate).toBeGreaterThan(cap * 0.9);
    const queues = trace.slice(10_000).map((p) => p.queueMs);
    const meanQueue = queues.reduce((a, b) => a + b, 0) / queues.length;
    expect(meanQueue).toBeLessThan(60 * 1.5);
    expect(meanQueue).toBeGreaterThan(5);
  });

  it('backs off within a few round trips when the queueing delay rises (a TCP flow takes the link)', () => {
    // Capacity for us halves at t=10 s, as when a foreground flow starts sharing the uplink.
    const { trace } = simulate({ capacity: (t) => (t < 10_000 ? 1250 : 625), baseDelayMs: 20 }, 16_000);
    const before = trace[9_999]!.cwnd;
    // A few RTTs (RTT ≈ 40 ms + queueing) later the window has come down...
    const after = trace[10_600]!.cwnd;
    expect(after).toBeLessThan(before * 0.8);
    // ...and the queue it causes settles back near the target instead of growing without bound.
    const late = trace.slice(14_000).map((p) => p.queueMs);
    expect(Math.max(...late)).toBeLessThan(150);
    expect(throughput(trace, 13_000, 15_999)).toBeGreaterThan(625 * 0.85);
  });

  it('keeps the window at its floor and never grows it past what is in flight', () => {
    const l = new Ledbat({ mss: MSS });
    for (let t = 0; t < 100; t++) l.onAck(t, MSS, 500 + t * 10, 2 * MSS, 40);
    expect(l.cwnd).toBe(2 * MSS);
    const g = new Ledbat({ mss: MSS });
    for (let t = 0; t < 1000; t++) g.onAck(t, MSS, 20, MSS, 40); // window unused: no growth past flight + 2 MSS
    expect(g.cwnd).toBeLessThanOrEqual(3 * MSS);
  });

  it('paces by the first round trip it measures, then smooths (RFC 6298)', () => {
    const l = new Ledbat({ mss: MSS });
    const window = l.cwnd;
    // Before any ack: a 100-ms path assumed.
    expect(l.rateBytesPerMs()).toBeCloseTo(window / 100);
    l.onAck(0, MSS, 0, 4 * MSS, 8);
    // A LAN's 8 ms at once, not 100 ms smoothed down over a dozen acks.
    expect(l.srttMs).toBe(8);
    expect(l.rateBytesPerMs()).toBeCloseTo(l.cwnd / 8);
    l.onAck(1, MSS, 0, 4 * MSS, 16);
    expect(l.srttMs).toBe(9);
  });

  it('caps target and gain as RFC 6817 requires', () => {
    expect(new Ledbat({ targetMs: 500 }).targetMs).toBe(100);
  });

  it("measures queueing delay above each path's own base delay", () => {
    const d = new DelayTracker({ baseBucketMs: 1000, baseBuckets: 3 });
    for (let t = 0; t < 10; t++) d.add(40 + (t % 3), t); // base 40 ms (clock offsets cancel out)
    expect(d.baseDelayMs).toBe(40);
    for (let t = 10; t < 14; t++) d.add(140, t);
    expect(d.queueingDelayMs()).toBe(100);
    // The base ages out: after the buckets roll over, the new floor is the base.
    for (let t = 1000; t < 5000; t += 10) d.add(70, t);
    expect(d.baseDelayMs).toBe(70);
    expect(d.queueingDelayMs()).toBe(0);
  });
});

describe('upload budget', () => {
  it('never lets more than the cap (plus one burst) through, whatever is asked', () => {
    const cap = kbpsToBytesPerMs(2000)!; // 250 bytes/ms
    const bucket = new TokenBucket(cap, 2 * MSS, 0);
    let sent = 0;
    for (let t = 0; t <= 30_000; t++) {
      while (bucket.takeWithDebt(MSS, t)) sent += MSS;
    }
    const allowed = cap * 30_000 + 3 * MSS;
    expect(sent).toBeLessThanOrEqual(allowed);
    expect(sent).toBeGreaterThan(cap * 30_000 * 0.97);
  });

  it('tells how long to wait, applies a new rate at once, and is unlimited when automatic', () => {
    const b = new TokenBucket(1, MSS, 0);
    expect(b.takeWithDebt(MSS, 0)).toBe(true);
    expect(b.takeWithDebt(1, 0)).toBe(false);
    expect(b.waitMs(0)).toBeGreaterThan(0);
    b.setRate(null, 1);
    expect(b.takeWithDebt(10 * MSS, 1)).toBe(true);
    expect(kbpsToBytesPerMs(null)).toBeNull();
  });

  it('measures a rate over its window', () => {
    const m = new RateMeter(1000);
    for (let t = 0; t < 1000; t += 10) m.add(1000, t);
    expect(m.bytesPerSecond(999)).toBeCloseTo(100_000, -3);
    expect(m.bytesPerSecond(5000)).toBe(0);
  });
});
