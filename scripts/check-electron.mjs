#!/usr/bin/env node
// `npm start` runs this first. Electron (41.7.2 and later) has no install script: its binary is
// downloaded on first use. This check finds the binary, downloads it when it is missing (through
// Electron's own installer, which honours ELECTRON_MIRROR and electron_mirror in .npmrc), and
// when that fails prints what to do — the mirror setting with the exact commands — and exits 1.
//
//   node scripts/check-electron.mjs            exit 0: the binary is there (or was just fetched)
//   node scripts/check-electron.mjs --no-download   only check, never download
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const MIRROR_EXAMPLE = 'https://npmmirror.com/mirrors/electron/';

/** The Electron executable `require('electron')` would return, or null when it is missing. */
export function electronBinary(electronDir, env = process.env) {
  const pathFile = join(electronDir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const relative = readFileSync(pathFile, 'utf8').trim();
  if (!relative) return null;
  const full = env.ELECTRON_OVERRIDE_DIST_PATH
    ? join(env.ELECTRON_OVERRIDE_DIST_PATH, relative)
    : join(electronDir, 'dist', relative);
  return existsSync(full) ? full : null;
}

/** What to tell the user when the binary is missing and could not be fetched. */
export function hint({ reason, mirror }) {
  const tried = mirror ? `the mirror ${mirror}` : 'GitHub (github.com/electron/electron/releases)';
  return [
    '',
    `Swarmcast: the Electron binary is missing (${reason}).`,
    `Electron downloads it on first use from ${tried}.`,
    'Where that host is blocked or unreachable, download it from a mirror',
    "(Electron's documented ELECTRON_MIRROR setting, electron_mirror in .npmrc):",
    '',
    '  macOS / Linux:',
    `    ELECTRON_MIRROR=${MIRROR_EXAMPLE} npx install-electron --no`,
    '  Windows (PowerShell):',
    `    $env:ELECTRON_MIRROR="${MIRROR_EXAMPLE}"; npx install-electron --no`,
    '  Windows (cmd):',
    `    set ELECTRON_MIRROR=${MIRROR_EXAMPLE}&& npx install-electron --no`,
    '',
    '  or keep the setting for every install, in .npmrc (this folder or your home folder):',
    `    electron_mirror=${MIRROR_EXAMPLE}`,
    '',
    'Behind an HTTP proxy, also set HTTPS_PROXY and ELECTRON_GET_USE_PROXY=true.',
    'Then run "npm start" again. Without the desktop app, "npm run web" serves the same viewer',
    'to your browser.',
    '',
  ].join('\n');
}

function main(argv) {
  const env = process.env;
  const require = createRequire(import.meta.url);
  let electronDir;
  try {
    electronDir = dirname(require.resolve('electron/package.json'));
  } catch {
    process.stderr.write('Swarmcast: the electron package is not installed; run "npm install" first.\n');
    return 1;
  }
  if (electronBinary(electronDir, env)) return 0;

  const mirror = env.npm_config_electron_mirror || env.ELECTRON_MIRROR || '';
  const skip = env.ELECTRON_SKIP_BINARY_DOWNLOAD && env.ELECTRON_SKIP_BINARY_DOWNLOAD !== '0';
  if (argv.includes('--no-download') || skip) {
    process.stderr.write(
      hint({
        reason: skip
          ? 'ELECTRON_SKIP_BINARY_DOWNLOAD is set, so it was not downloaded'
          : 'not downloaded yet',
        mirror,
      }),
    );
    return 1;
  }
  process.stderr.write('Swarmcast: downloading the Electron binary (first start)…\n');
  const result = spawnSync(process.execPath, [join(electronDir, 'install.js')], { stdio: 'inherit', env });
  if (result.status === 0 && electronBinary(electronDir, env)) return 0;
  const reason = result.error
    ? `its installer could not run: ${result.error.message}`
    : 'the download failed; the error is above';
  process.stderr.write(hint({ reason, mirror }));
  return 1;
}

// Run as a script (not imported by a test).
if (process.argv[1]?.endsWith('check-electron.mjs')) {
  process.exitCode = main(process.argv.slice(2));
}
