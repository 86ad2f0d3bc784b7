/**
 * A viewer's ISP and region from its address: the config file's prefix table first (an operator's
 * own knowledge wins), then the MMDB databases. The viewer's own hint (?isp=&region=) only fills
 * what lookup leaves unknown.
 */
import type { Logger } from '../log';
import { MmdbLookup } from './mmdb-lookup';
import { type Locality, PrefixTable, type PrefixTableConfig } from './prefix-table';

export type { Locality } from './prefix-table';

export interface IspLookup {
  lookup(address: string | undefined): Locality | null;
}

export interface IspLookupOptions {
  /** CIDR → { isp, region } (config key `ispPrefixes`). */
  prefixes?: PrefixTableConfig;
  /** MMDB files (config key `geoDbs`, flag --geo-db). */
  mmdbPaths?: readonly string[];
  log: Logger;
}

/** Both sources, or null when neither is configured (the viewer's hint is all there is). */
export async function openIspLookup(opts: IspLookupOptions): Promise<IspLookup | null> {
  const table =
    opts.prefixes && Object.keys(opts.prefixes).length > 0 ? new PrefixTable(opts.prefixes) : null;
  const mmdb = opts.mmdbPaths && opts.mmdbPaths.length > 0 ? await MmdbLookup.open(opts.mmdbPaths) : null;
  if (!table && !mmdb) return null;
  opts.log.info({ prefixes: table?.size ?? 0, mmdb: opts.mmdbPaths ?? [] }, 'ISP lookup ready');
  return {
    lookup(address) {
      if (!address) return null;
      const a = table?.lookup(address) ?? null;
      if (a?.isp && a.region) return a;
      const b = mmdb?.lookup(address) ?? null;
      const out: Locality = { isp: a?.isp ?? b?.isp, region: a?.region ?? b?.region };
      if (out.isp === undefined) delete out.isp;
      if (out.region === undefined) delete out.region;
      return out.isp || out.region ? out : null;
    },
  };
}

/** Looked-up values first; the viewer's claim only where lookup found nothing. */
export function resolveLocality(found: Locality | null, hint: Locality): Locality {
  const out: Locality = {};
  const isp = found?.isp ?? hint.isp;
  const region = found?.region ?? hint.region;
  if (isp !== undefined) out.isp = isp;
  if (region !== undefined) out.region = region;
  return out;
}
