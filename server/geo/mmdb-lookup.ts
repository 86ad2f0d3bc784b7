/**
 * ISP and region from MMDB databases (MaxMind GeoIP2/GeoLite2, IPinfo and others in the MaxMind
 * DB format), read with the maintained `maxmind` reader. Deployments usually have two files (an
 * ASN or ISP database and a City or Country one), so several may be given: the first that names
 * an ISP gives the ISP, the first that names a region gives the region.
 *
 * Fields, as the common databases spell them:
 * - ISP: `isp` (GeoIP2-ISP), `autonomous_system_organization` (GeoLite2-ASN), `as_name` /
 *   `name` (IPinfo), else the AS number (`autonomous_system_number`, `asn`) as "AS<n>".
 * - region: country ISO code (`country.iso_code`, or IPinfo's `country` string) and, when
 *   present, the first subdivision (`subdivisions[0].iso_code`, or IPinfo's `region`):
 *   "US-CA", "DE", "US-California".
 */
import maxmind, { type Reader } from 'maxmind';
import { MAX_HINT_CHARS } from '../../common/tracker-protocol';
import type { Locality } from './prefix-table';

type MmdbRecord = Record<string, unknown>;

/** Printable ASCII, at most the hint length: what the protocol carries. */
export function hintText(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value)
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, MAX_HINT_CHARS);
  return text.length > 0 ? text : undefined;
}

const field = (rec: unknown, key: string): unknown =>
  rec !== null && typeof rec === 'object' ? (rec as MmdbRecord)[key] : undefined;

export function ispOf(rec: MmdbRecord): string | undefined {
  for (const key of ['isp', 'autonomous_system_organization', 'as_name', 'name', 'organization']) {
    const text = hintText(rec[key]);
    if (text) return text;
  }
  const asn = rec.autonomous_system_number ?? rec.asn;
  if (typeof asn === 'number') return `AS${asn}`;
  return hintText(asn);
}

export function regionOf(rec: MmdbRecord): string | undefined {
  const country = hintText(field(rec.country, 'iso_code') ?? rec.country_code ?? rec.country);
  const subdivisions = rec.subdivisions;
  const sub = hintText(
    Array.isArray(subdivisions) ? field(subdivisions[0], 'iso_code') : (rec.region_code ?? rec.region),
  );
  if (country && sub) return hintText(`${country}-${sub}`);
  return country ?? sub;
}

/** Localities from MMDB readers, first answer per part. */
export class MmdbLookup {
  constructor(private readonly readers: ReadonlyArray<Reader<MmdbRecord>>) {}

  /** Opens the files (they are watched for updates: a nightly database refresh needs no restart). */
  static async open(paths: readonly string[]): Promise<MmdbLookup> {
    const readers = await Promise.all(
      paths.map((p) =>
        maxmind.open<MmdbRecord>(p, { watchForUpdates: true, watchForUpdatesNonPersistent: true }),
      ),
    );
    return new MmdbLookup(readers);
  }

  lookup(address: string): Locality | null {
    const out: Locality = {};
    const plain = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
    if (!maxmind.validate(plain)) return null;
    for (const reader of this.readers) {
      const rec = reader.get(plain);
      if (!rec) continue;
      out.isp ??= ispOf(rec);
      out.region ??= regionOf(rec);
      if (out.isp && out.region) break;
    }
    return out.isp || out.region ? out : null;
  }
}
