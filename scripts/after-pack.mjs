// electron-builder afterPack hook (electron-builder.yml `afterPack`): each packed app must carry
// exactly one node-datachannel binary, its own platform's and architecture's, unpacked from the
// asar. Fails the build otherwise, before anything is signed or packaged into an installer.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// builder-util's Arch enum.
const ARCH_NAMES = { 0: 'ia32', 1: 'x64', 2: 'armv7l', 3: 'arm64', 4: 'universal' };

/** The @node-datachannel package a build for (electron platform, arch) must carry. */
export function expectedPrebuild(platform, arch) {
  if (platform === 'darwin' || platform === 'mas') return `darwin-${arch}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  if (platform === 'linux') return `linux-${arch}-gnu`;
  throw new Error(`no node-datachannel prebuild for ${platform}`);
}

/** The app's resources folder inside an unpacked build. */
export function resourcesDir(context) {
  if (context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas') {
    return join(
      context.appOutDir,
      `${context.packager.appInfo.productFilename}.app`,
      'Contents',
      'Resources',
    );
  }
  return join(context.appOutDir, 'resources');
}

/** Problems with the node-datachannel binaries in `resources` (empty when all is well). */
export function checkPrebuilds(resources, platform, arch) {
  const want = expectedPrebuild(platform, arch);
  const dir = join(resources, 'app.asar.unpacked', 'node_modules', '@node-datachannel');
  const present = existsSync(dir) ? readdirSync(dir) : [];
  const problems = [];
  if (!existsSync(join(dir, want, 'node_datachannel.node'))) {
    problems.push(
      `missing @node-datachannel/${want}/node_datachannel.node (run "node scripts/native-prebuilds.mjs" before electron-builder; npm run dist does)`,
    );
  }
  const others = present.filter((name) => name !== want);
  if (others.length > 0) problems.push(`binaries of other platforms packed: ${others.join(', ')}`);
  return problems;
}

export default async function afterPack(context) {
  const arch = ARCH_NAMES[context.arch] ?? String(context.arch);
  const problems = checkPrebuilds(resourcesDir(context), context.electronPlatformName, arch);
  if (problems.length > 0) {
    throw new Error(`Swarmcast ${context.electronPlatformName}-${arch}: ${problems.join('; ')}`);
  }
}
