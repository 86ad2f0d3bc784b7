#!/usr/bin/env node
// Before `electron-builder` (npm run dist runs this): node-datachannel's native addon comes in
// per-platform optional packages (@node-datachannel/<os>-<arch>[-<abi>]), and npm installs only
// the one for the machine it runs on. A macOS build makes x64 and arm64 apps, a Windows build
// x64 and arm64: this fetches the missing architectures' packages, at exactly the version
// node-datachannel names, from the registry the project's npm uses (`npm pack` checks their
// integrity), into node_modules/@node-datachannel/. electron-builder.yml then keeps only each
// build's own package, and scripts/after-pack.mjs checks it did.
//
//   node scripts/native-prebuilds.mjs [--platform darwin|win32|linux] [--arch x64,arm64]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

/** Architectures electron-builder.yml packages per OS. */
export const PACKAGED_ARCHS = { darwin: ['x64', 'arm64'], win32: ['x64', 'arm64'], linux: ['x64'] };

export function prebuildName(platform, arch) {
  if (platform === 'darwin') return `@node-datachannel/darwin-${arch}`;
  if (platform === 'win32') return `@node-datachannel/win32-${arch}-msvc`;
  if (platform === 'linux') return `@node-datachannel/linux-${arch}-gnu`;
  throw new Error(`no node-datachannel prebuilds for ${platform}`);
}

function main() {
  const { values } = parseArgs({
    options: { platform: { type: 'string', default: process.platform }, arch: { type: 'string' } },
  });
  const platform = values.platform;
  const archs = values.arch ? values.arch.split(',') : PACKAGED_ARCHS[platform];
  if (!archs) throw new Error(`not a packaging platform: ${platform}`);

  const require = createRequire(import.meta.url);
  // Its `exports` hide package.json: walk up from its entry point.
  let ndcDir = dirname(require.resolve('node-datachannel'));
  while (
    !existsSync(join(ndcDir, 'package.json')) ||
    JSON.parse(readFileSync(join(ndcDir, 'package.json'), 'utf8')).name !== 'node-datachannel'
  ) {
    const up = dirname(ndcDir);
    if (up === ndcDir) throw new Error('node-datachannel is not installed');
    ndcDir = up;
  }
  const ndc = JSON.parse(readFileSync(join(ndcDir, 'package.json'), 'utf8'));
  const nodeModules = dirname(ndcDir);
  const optional = ndc.optionalDependencies ?? {};

  for (const arch of archs) {
    const name = prebuildName(platform, arch);
    const version = optional[name];
    if (!version) throw new Error(`node-datachannel ${ndc.version} lists no ${name}`);
    const target = join(nodeModules, ...name.split('/'));
    const installed = join(target, 'package.json');
    if (existsSync(installed) && JSON.parse(readFileSync(installed, 'utf8')).version === version) {
      console.log(`${name}@${version}: present`);
      continue;
    }
    const tmp = mkdtempSync(join(tmpdir(), 'swarmcast-prebuild-'));
    try {
      const pack = spawnSync(
        'npm',
        ['pack', `${name}@${version}`, '--pack-destination', tmp, '--json', '--silent'],
        {
          encoding: 'utf8',
          shell: process.platform === 'win32',
        },
      );
      if (pack.status !== 0) throw new Error(`npm pack ${name}@${version} failed: ${pack.stderr}`);
      const [{ filename }] = JSON.parse(pack.stdout);
      const extract = spawnSync('tar', ['-xzf', join(tmp, filename), '-C', tmp], { encoding: 'utf8' });
      if (extract.status !== 0) throw new Error(`extracting ${filename} failed: ${extract.stderr}`);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(dirname(target), { recursive: true });
      renameSync(join(tmp, 'package'), target);
      console.log(`${name}@${version}: fetched`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

if (process.argv[1]?.endsWith('native-prebuilds.mjs')) {
  try {
    main();
  } catch (err) {
    console.error(`native-prebuilds: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
