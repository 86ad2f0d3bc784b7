// What `npm run dist` hands electron-builder: electron-builder.yml (everything fixed) plus what
// comes from the environment at build time. Signing and notarisation variables (CSC_LINK,
// APPLE_ID, …) are read by electron-builder itself; see deploy/PACKAGING.md.
//
//   SWARMCAST_UPDATE_URL=https://updates.example.com/swarmcast/   the update feed (https only):
//     a `generic` publish provider, so the app gets <resources>/app-update.yml and the build
//     writes latest*.yml next to the installers, to upload with them. Unset: no feed, and the
//     app's updater never runs (main/electron/updater.ts).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export function updateFeed(env = process.env) {
  const raw = env.SWARMCAST_UPDATE_URL?.trim();
  if (!raw) return null;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`SWARMCAST_UPDATE_URL is not a URL: ${raw}`);
  }
  if (url.protocol !== 'https:') throw new Error(`SWARMCAST_UPDATE_URL must be https://, got ${raw}`);
  if (url.username || url.password) throw new Error('SWARMCAST_UPDATE_URL must not carry credentials');
  return { provider: 'generic', url: url.href.endsWith('/') ? url.href : `${url.href}/`, channel: 'latest' };
}

export function packagingConfig(env = process.env) {
  const config = parse(readFileSync(new URL('./electron-builder.yml', import.meta.url), 'utf8'));
  const feed = updateFeed(env);
  config.publish = feed ? [feed] : null;
  return config;
}

export default packagingConfig();
