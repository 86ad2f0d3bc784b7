/**
 * A minimal MaxMind DB (MMDB) writer, for tests only: the `maxmind` reader is what production
 * uses, and to test it against a database with known contents we must write one. There is no
 * maintained JavaScript writer (MaxMind's own writers are Perl and Go), and committing a binary
 * GeoIP database would bring its licence into the repository; the format is small and
 * documented (https://maxmind.github.io/MaxMind-DB/), so this writes just what tests need: an
 * IPv6 tree (IPv4 networks under ::/96, where readers look IPv4 up), 24-bit records, and the
 * data types maps, strings, unsigned integers and arrays.
 */
import { isIPv4 } from 'node:net';
import { addressBits } from '../../server/geo/prefix-table';

export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue };

function control(type: number, size: number): Buffer {
  const bytes: number[] = [];
  const extended = type > 7;
  let sizeBits: number;
  const extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    extra.push(size - 29);
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    const v = size - 285;
    extra.push(v >> 8, v & 0xff);
  } else {
    sizeBits = 31;
    const v = size - 65821;
    extra.push((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  }
  bytes.push(((extended ? 0 : type) << 5) | sizeBits);
  if (extended) bytes.push(type - 7);
  return Buffer.from([...bytes, ...extra]);
}

function uint(type: number, value: number | bigint): Buffer {
  let v = BigInt(value);
  const out: number[] = [];
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.concat([control(type, out.length), Buffer.from(out)]);
}

export function encodeValue(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const s = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, s.length), s]);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new Error('only unsigned integers are written');
    return uint(value <= 0xffffffff ? 6 : 9, value);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encodeValue)]);
  const entries = Object.entries(value);
  return Buffer.concat([
    control(7, entries.length),
    ...entries.flatMap(([k, v]) => [encodeValue(k), encodeValue(v)]),
  ]);
}

type Rec = { node: number } | { data: number } | null;

/** Writes a database: network (CIDR) → record. Longer prefixes may be listed after shorter ones. */
export function writeMmdb(networks: Record<string, MmdbValue>, databaseType = 'Swarmcast-Test'): Buffer {
  const nodes: Array<[Rec, Rec]> = [[null, null]];
  const data: Buffer[] = [];
  let dataSize = 0;
  for (const [cidr, record] of Object.entries(networks)) {
    const [addr, lenText] = cidr.split('/') as [string, string];
    const v4 = isIPv4(addr);
    const length = Number(lenText) + (v4 ? 96 : 0);
    // IPv4 goes under ::/96 (not the ::ffff:0:0/96 that prefix-table.ts uses for matching).
    let bits = addressBits(addr)!;
    if (v4) bits &= 0xffffffffn;
    const encoded = encodeValue(record);
    const offset = dataSize;
    data.push(encoded);
    dataSize += encoded.length;
    let node = 0;
    for (let depth = 0; depth < length; depth++) {
      const bit = Number((bits >> BigInt(127 - depth)) & 1n);
      if (depth === length - 1) {
        nodes[node]![bit] = { data: offset };
        break;
      }
      const next: Rec = nodes[node]![bit] ?? null;
      if (next && 'node' in next) {
        node = next.node;
        continue;
      }
      // A new node; a shorter network's data already here covers both halves below it.
      nodes.push([next, next]);
      nodes[node]![bit] = { node: nodes.length - 1 };
      node = nodes.length - 1;
    }
  }
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  const value = (r: Rec) => (r === null ? count : 'node' in r ? r.node : count + 16 + r.data);
  nodes.forEach(([l, r], i) => {
    tree.writeUIntBE(value(l), i * 6, 3);
    tree.writeUIntBE(value(r), i * 6 + 3, 3);
  });
  const metadata = Buffer.concat([
    control(7, 9),
    encodeValue('node_count'),
    uint(6, count),
    encodeValue('record_size'),
    uint(5, 24),
    encodeValue('ip_version'),
    uint(5, 6),
    encodeValue('database_type'),
    encodeValue(databaseType),
    encodeValue('languages'),
    encodeValue(['en']),
    encodeValue('binary_format_major_version'),
    uint(5, 2),
    encodeValue('binary_format_minor_version'),
    uint(5, 0),
    encodeValue('build_epoch'),
    uint(9, Math.floor(Date.now() / 1000)),
    encodeValue('description'),
    encodeValue({ en: 'Swarmcast test database' }),
  ]);
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...data,
    Buffer.from([0xab, 0xcd, 0xef]),
    Buffer.from('MaxMind.com', 'ascii'),
    metadata,
  ]);
}
