/**
 * The simulated population: upload capacity, NAT type, ISP and region of each viewer.
 *
 * Upload capacity (fixed broadband, what one application's flows can get upstream). The
 * shape follows the Measuring Broadband America fixed-broadband reports (FCC, 13th report,
 * data of Sept–Oct 2022: DSL tiers upload 0.384–1.5 Mbit/s, cable 5–35 Mbit/s, fibre
 * symmetric 50–940 Mbit/s, with measured medians at 95–100 % of advertised for cable and
 * fibre and lower for DSL) and the spread Ookla's Speedtest Global Index and M-Lab's NDT show
 * for fixed upload: a low tail of a few hundred kbit/s (DSL, rural fixed wireless, congested
 * cable upstream), a median near 10–15 Mbit/s, and a fibre tail in the hundreds. The
 * percentiles below are our reading of those sources, not a copy of one table: the median is
 * deliberately below Ookla's fixed median upload (tens of Mbit/s; Speedtest uses many parallel
 * flows to one nearby server) and close to M-Lab NDT's single-flow medians, because one
 * application's flows to other homes see about that. Between points the capacity is
 * log-linear in the percentile.
 *
 *   percentile   0    5    10   20   30   40   50   60   70   80   90   95   100
 *   Mbit/s     0.3  0.6  1.0  2.5  5.0  8.0   12   17   24   35   55   90   250
 *
 * NAT types: shares after the NAT measurements of P2P clients (Halkes & Pouwelse, "UDP NAT
 * and firewall puncturing in the wild", IFIP Networking 2011; and the RFC 4787/5128 era
 * surveys): about a third of homes directly reachable or behind a full-cone NAT, most behind
 * (port-)restricted cone NATs, about one in six behind a symmetric NAT (carrier-grade NAT
 * pushes that up; mobile is not modelled). Without TURN, symmetric ↔ symmetric and symmetric
 * ↔ port-restricted pairs cannot connect (the symmetric side's mapping changes per
 * destination, and a port-restricted peer only accepts the port it sent to).
 *
 * ISPs: five, with a skewed (Zipf-like) market share as in most countries; regions: four.
 */
import type { RandomSource } from '../server/tracker/neighbours';

/** (percentile, Mbit/s) points of the upload capacity distribution, see above. */
export const UPLOAD_MBPS_PERCENTILES: ReadonlyArray<readonly [number, number]> = [
  [0, 0.3],
  [5, 0.6],
  [10, 1.0],
  [20, 2.5],
  [30, 5.0],
  [40, 8.0],
  [50, 12],
  [60, 17],
  [70, 24],
  [80, 35],
  [90, 55],
  [95, 90],
  [100, 250],
];

/** The upload capacity (Mbit/s) at percentile p (0..100): log-linear between the points. */
export function uploadMbpsAt(p: number): number {
  const pts = UPLOAD_MBPS_PERCENTILES;
  const q = Math.min(100, Math.max(0, p));
  for (let i = 1; i < pts.length; i++) {
    const [p1, v1] = pts[i]!;
    const [p0, v0] = pts[i - 1]!;
    if (q <= p1) {
      const f = (q - p0) / (p1 - p0);
      return Math.exp(Math.log(v0) + f * (Math.log(v1) - Math.log(v0)));
    }
  }
  return pts[pts.length - 1]![1];
}

/** A draw from the upload capacity distribution (Mbit/s). */
export function sampleUploadMbps(random: RandomSource): number {
  return uploadMbpsAt(random() * 100);
}

/** Mean of the distribution (Mbit/s), by numeric integration. */
export function meanUploadMbps(): number {
  let sum = 0;
  const steps = 10_000;
  for (let i = 0; i < steps; i++) sum += uploadMbpsAt(((i + 0.5) / steps) * 100);
  return sum / steps;
}

export enum Nat {
  /** Public address or full-cone NAT: anyone can reach it once it has a mapping. */
  FullCone = 0,
  Restricted = 1,
  PortRestricted = 2,
  Symmetric = 3,
}

export const NAT_SHARES: Readonly<Record<Nat, number>> = {
  [Nat.FullCone]: 0.3,
  [Nat.Restricted]: 0.15,
  [Nat.PortRestricted]: 0.38,
  [Nat.Symmetric]: 0.17,
};

/** Whether two NAT types can open a direct (STUN-assisted) link; without TURN. */
export function natCompatible(a: Nat, b: Nat): boolean {
  if (a === Nat.Symmetric) return b === Nat.FullCone || b === Nat.Restricted;
  if (b === Nat.Symmetric) return a === Nat.FullCone || a === Nat.Restricted;
  return true;
}

export function sampleNat(random: RandomSource): Nat {
  return pickShare(random, [
    NAT_SHARES[Nat.FullCone],
    NAT_SHARES[Nat.Restricted],
    NAT_SHARES[Nat.PortRestricted],
    NAT_SHARES[Nat.Symmetric],
  ]) as Nat;
}

/** ISP market shares (Zipf-like: the largest has 40 %, the smallest 8 %). */
export const ISP_SHARES = [0.4, 0.25, 0.15, 0.12, 0.08] as const;
export const REGION_SHARES = [0.4, 0.3, 0.2, 0.1] as const;

/** Index drawn with the given shares (which sum to 1). */
export function pickShare(random: RandomSource, shares: readonly number[]): number {
  let r = random();
  for (let i = 0; i < shares.length; i++) {
    r -= shares[i]!;
    if (r < 0) return i;
  }
  return shares.length - 1;
}
