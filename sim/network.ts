/**
 * The simulated network: one-way delays between homes by ISP and region, how long a link
 * takes to open, the CDN, and how much of a home's upstream the uploader's rate control
 * actually uses — measured by running the real LEDBAT window (main/p2p/ledbat.ts), its delay
 * filter and the pacing token bucket (common/token-bucket.ts) against a fluid bottleneck of
 * that capacity, once per capacity class.
 */
import { TokenBucket } from '../common/token-bucket';
import { DelayTracker, Ledbat } from '../main/p2p/ledbat';
import { CHUNK_BYTES } from '../main/p2p/upload-policy';

export interface Place {
  isp: number;
  region: number;
  /** The home's own access delay (ms, one way). */
  accessMs: number;
}

/** One-way delay between two homes (ms): access delays plus the path between their networks. */
export function oneWayMs(a: Place, b: Place): number {
  const core = a.isp === b.isp ? (a.region === b.region ? 4 : 14) : a.region === b.region ? 12 : 24;
  return a.accessMs + b.accessMs + core;
}

/** Time from a tracker answer to an open link (ms): signalling through the tracker, ICE
 * checks, DTLS and SCTP handshakes and the Hello, about four round trips plus the tracker's. */
export function linkSetupMs(oneWay: number, trackerMs: number): number {
  return 2 * trackerMs + 8 * oneWay + 50;
}

/** A link that cannot open is given up after this long (PeerLink's connect timeout). */
export const CONNECT_TIMEOUT_MS = 8000;

/** A whole segment from the CDN (ms): request round trip plus the bytes at the download rate. */
export function cdnFetchMs(size: number, downloadBytesPerMs: number, rttMs: number): number {
  return rttMs + size / downloadBytesPerMs;
}

/**
 * Share of a bottleneck of `capacityBytesPerMs` that the real uploader rate control keeps busy
 * when it always has data to send: the Ledbat window, paced at 1.5× its rate by a token bucket
 * as the Uploader does, each 16 KiB chunk queued at the bottleneck, each ack carrying the
 * chunk's one-way delay into a DelayTracker. Simulated in 1 ms steps for `seconds`; the share
 * is measured over the second half.
 */
export function ledbatUtilisation(capacityBytesPerMs: number, baseOneWayMs: number, seconds = 20): number {
  const ledbat = new Ledbat({ mss: CHUNK_BYTES });
  const delay = new DelayTracker();
  const pace = new TokenBucket(null, 2 * CHUNK_BYTES, 0);
  /** Chunks at the bottleneck: bytes left and send time. */
  const queue: Array<{ left: number; sentAt: number }> = [];
  /** Acks on their way back: arrival time, send time, one-way delay. */
  const acks: Array<{ at: number; sentAt: number; owd: number }> = [];
  let flight = 0;
  let delivered = 0;
  const end = seconds * 1000;
  const half = end / 2;
  for (let now = 0; now < end; now++) {
    while (acks.length > 0 && acks[0]!.at <= now) {
      const a = acks.shift()!;
      delay.add(a.owd, now);
      const flightBefore = flight;
      flight -= CHUNK_BYTES;
      const rtt = now - a.sentAt;
      ledbat.onAck(now, CHUNK_BYTES, Math.min(delay.queueingDelayMs(), rtt), flightBefore, rtt);
      pace.setRate(ledbat.rateBytesPerMs() * 1.5, now);
    }
    while (flight + CHUNK_BYTES <= ledbat.cwnd && pace.waitMs(now) === 0) {
      pace.takeWithDebt(CHUNK_BYTES, now);
      queue.push({ left: CHUNK_BYTES, sentAt: now });
      flight += CHUNK_BYTES;
    }
    let budget = capacityBytesPerMs;
    while (budget > 0 && queue.length > 0) {
      const c = queue[0]!;
      const take = Math.min(budget, c.left);
      c.left -= take;
      budget -= take;
      if (now >= half) delivered += take;
      if (c.left <= 0) {
        queue.shift();
        const owd = now + 1 - c.sentAt + baseOneWayMs;
        acks.push({ at: now + 1 + 2 * baseOneWayMs, sentAt: c.sentAt, owd });
      }
    }
  }
  return delivered / (capacityBytesPerMs * (end - half));
}

/** ledbatUtilisation for capacity classes (log-spaced), computed once and looked up. */
export class RateControlTable {
  private readonly classes: number[] = [];
  private readonly shares: number[] = [];

  constructor(baseOneWayMs = 20, minMbps = 0.25, maxMbps = 1000, perDecade = 3) {
    for (let mbps = minMbps; mbps <= maxMbps * 1.0001; mbps *= 10 ** (1 / perDecade)) {
      this.classes.push(mbps);
      this.shares.push(ledbatUtilisation(mbps * 125, baseOneWayMs, 12));
    }
  }

  /** The utilisation of the nearest class at or below `mbps`. */
  share(mbps: number): number {
    let i = 0;
    while (i + 1 < this.classes.length && this.classes[i + 1]! <= mbps) i++;
    return this.shares[i]!;
  }

  rows(): Array<{ mbps: number; share: number }> {
    return this.classes.map((mbps, i) => ({ mbps, share: this.shares[i]! }));
  }
}
