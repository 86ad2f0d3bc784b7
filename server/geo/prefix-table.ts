/**
 * ISP and region by address prefix: a table of CIDR blocks (IPv4 and IPv6) from the config
 * file, for tests and for small deployments that know their viewers' networks. The longest
 * matching prefix wins. IPv4 blocks also match IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what
 * a dual-stack socket reports).
 */
import { isIPv4, isIPv6 } from 'node:net';
import * as z from 'zod';
import { hintSchema } from '../../common/tracker-protocol';

/** What a lookup tells about an address; either part may be unknown. */
export interface Locality {
  isp?: string;
  region?: string;
}

export const localitySchema = z
  .strictObject({ isp: hintSchema.optional(), region: hintSchema.optional() })
  .refine((l) => l.isp !== undefined || l.region !== undefined, 'names an isp, a region or both');

/** The config file's table: "203.0.113.0/24": { isp: "example-net", region: "eu-west" }. */
export const prefixTableSchema = z.record(z.string().max(64), localitySchema);
export type PrefixTableConfig = z.infer<typeof prefixTableSchema>;

/** An address as a 128-bit number (IPv4 as IPv4-mapped IPv6); null when it is not an address. */
export function addressBits(address: string): bigint | null {
  const plain = address.replace(/%.*$/, '');
  if (isIPv4(plain)) return (0xffffn << 32n) | ipv4Bits(plain);
  if (!isIPv6(plain)) return null;
  let text = plain;
  let tail = 0n;
  let tailGroups = 0;
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail = ipv4Bits(dotted[1]!);
    tailGroups = 2;
    text = text.slice(0, -dotted[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').filter((g) => g.length > 0) : []);
  const left = groups(head);
  const right = groups(rest);
  const missing = 8 - tailGroups - left.length - right.length;
  const all = [...left, ...(rest === undefined ? [] : Array<string>(missing).fill('0')), ...right];
  let bits = 0n;
  for (const g of all) bits = (bits << 16n) | BigInt(Number.parseInt(g, 16));
  return (bits << BigInt(tailGroups * 16)) | tail;
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

const mask = (length: number) => ((1n << BigInt(length)) - 1n) << BigInt(128 - length);

/** Parses "a.b.c.d/n" or "x:y::/n" into the 128-bit network and its prefix length. */
export function parseCidr(cidr: string): { network: bigint; length: number } {
  const slash = cidr.lastIndexOf('/');
  const address = slash < 0 ? cidr : cidr.slice(0, slash);
  const v4 = isIPv4(address);
  const max = v4 ? 32 : 128;
  const lengthText = slash < 0 ? String(max) : cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
    throw new Error(`${cidr}: prefix length must be 0-${max}`);
  }
  const bits = addressBits(address);
  if (bits === null) throw new Error(`${cidr}: not an IPv4 or IPv6 prefix`);
  const length = Number(lengthText) + (v4 ? 96 : 0);
  return { network: bits & mask(length), length };
}

export class PrefixTable {
  /** Prefix length → network → locality; lengths kept longest first. */
  private readonly byLength = new Map<number, Map<bigint, Locality>>();
  private lengths: number[] = [];

  constructor(table: PrefixTableConfig = {}) {
    for (const [cidr, locality] of Object.entries(table)) this.add(cidr, locality);
  }

  get size(): number {
    let n = 0;
    for (const m of this.byLength.values()) n += m.size;
    return n;
  }

  add(cidr: string, locality: Locality): void {
    const { network, length } = parseCidr(cidr);
    let nets = this.byLength.get(length);
    if (!nets) {
      nets = new Map();
      this.byLength.set(length, nets);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    nets.set(network, { ...locality });
  }

  /** The locality of the longest prefix holding `address`, or null. */
  lookup(address: string): Locality | null {
    const bits = addressBits(address);
    if (bits === null) return null;
    for (const length of this.lengths) {
      const hit = this.byLength.get(length)!.get(bits & mask(length));
      if (hit) return { ...hit };
    }
    return null;
  }
}
