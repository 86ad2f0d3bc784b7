/**
 * The desktop packaging, checked without building (no Electron binary here): electron-builder's
 * own loader and schema accept the configuration with and without an update feed; every
 * platform's build keeps exactly its own node-datachannel binary; the afterPack guard catches
 * a wrong one; the macOS entitlements hold only what the hardened runtime needs; and the
 * package's `engines` is satisfied wherever its dependencies' are.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
// @ts-expect-error plain JavaScript module without types
import { packagingConfig, updateFeed } from '../electron-builder.config.mjs';
// @ts-expect-error plain JavaScript module without types
import { checkPrebuilds, expectedPrebuild } from '../scripts/after-pack.mjs';
// @ts-expect-error plain JavaScript module without types
import { PACKAGED_ARCHS, prebuildName } from '../scripts/native-prebuilds.mjs';

const ARCH_MACRO = '$' + '{arch}';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(ROOT, 'package.json'));

// biome-ignore lint/suspicious/noExplicitAny: configuration files read without a schema
type Config = Record<string, any>;
const yamlConfig = async (): Promise<Config> =>
  parse(await readFile(join(ROOT, 'electron-builder.yml'), 'utf8'));

describe('electron-builder configuration', () => {
  const validate = async (config: Config) => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config');
    const { DebugLogger } = require('builder-util');
    await validateConfiguration(config, new DebugLogger(false));
  };

  it('is what electron-builder loads from electron-builder.config.mjs, and passes its schema', async () => {
    const { getConfig } = require('app-builder-lib/out/util/config/config');
    const loaded = await getConfig(ROOT, join(ROOT, 'electron-builder.config.mjs'), null);
    await validate(loaded);
    expect(loaded.appId).toBe('net.swarmcast.viewer');
  });

  it('has no update feed unless SWARMCAST_UPDATE_URL is set, and a generic https one when it is', async () => {
    const off = packagingConfig({});
    expect(off.publish).toBeNull();
    await validate(off);
    const on = packagingConfig({ SWARMCAST_UPDATE_URL: 'https://updates.example.com/swarmcast' });
    expect(on.publish).toEqual([
      { provider: 'generic', url: 'https://updates.example.com/swarmcast/', channel: 'latest' },
    ]);
    await validate(on);
  });

  it.each([
    ['http://updates.example.com/', /https/],
    ['not a url', /not a URL/],
    ['https://user:pw@updates.example.com/', /credentials/],
  ])('refuses the feed %s', (url, message) => {
    expect(() => updateFeed({ SWARMCAST_UPDATE_URL: url })).toThrow(message);
  });

  it('registers swarmcast:// and builds per architecture', async () => {
    const c = await yamlConfig();
    expect(c.protocols).toEqual([{ name: 'Swarmcast', schemes: ['swarmcast'] }]);
    expect(c.mac.target).toEqual([
      { target: 'dmg', arch: ['x64', 'arm64'] },
      { target: 'zip', arch: ['x64', 'arm64'] },
    ]);
    expect(c.win.target).toEqual([{ target: 'nsis', arch: ['x64', 'arm64'] }]);
    expect(c.nsis.buildUniversalInstaller).toBe(false);
    expect(c.linux.target.map((t: Config) => t.target)).toEqual(['AppImage', 'deb']);
    for (const name of [
      c.dmg.artifactName,
      c.nsis.artifactName,
      c.appImage.artifactName,
      c.deb.artifactName,
    ]) {
      expect(name).toContain(ARCH_MACRO);
    }
    expect(c.asarUnpack).toEqual(['**/node_modules/@node-datachannel/*/*.node']);
    expect(c.npmRebuild).toBe(false);
    expect(c.mac.hardenedRuntime).toBe(true);
    expect(c.mac.notarize).toBeUndefined(); // electron-builder notarises only when APPLE_* are set
    expect(c.publish).toBeNull();
  });

  it('keeps exactly each build its own node-datachannel package', async () => {
    const { Minimatch } = require('minimatch');
    const c = await yamlConfig();
    const ndcPkg = JSON.parse(
      await readFile(
        join(require.resolve('node-datachannel').split('/dist/')[0] as string, 'package.json'),
        'utf8',
      ),
    );
    const all = Object.keys(ndcPkg.optionalDependencies).map((n) => n.replace('@node-datachannel/', ''));
    const sections: Record<string, string> = { darwin: 'mac', win32: 'win', linux: 'linux' };
    for (const [platform, archs] of Object.entries(PACKAGED_ARCHS as Record<string, string[]>)) {
      const section = c[sections[platform] as string];
      const buildArchs = section.target.flatMap((t: Config) => t.arch);
      expect(new Set(buildArchs)).toEqual(new Set(archs));
      for (const arch of archs) {
        const patterns = (section.files as string[]).map(
          (p) => new Minimatch(p.replaceAll(ARCH_MACRO, arch), { dot: true }),
        );
        const kept = all.filter((name) =>
          patterns.every((m: { match(p: string): boolean }) =>
            m.match(`node_modules/@node-datachannel/${name}/node_datachannel.node`),
          ),
        );
        expect(kept, `${platform} ${arch}`).toEqual([expectedPrebuild(platform, arch)]);
        expect(prebuildName(platform, arch)).toBe(`@node-datachannel/${kept[0]}`);
      }
    }
  });
});

describe('scripts/after-pack.mjs', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const resources = async (packages: string[]) => {
    const d = await mkdtemp(join(tmpdir(), 'swarmcast-afterpack-'));
    dirs.push(d);
    for (const p of packages) {
      const dir = join(d, 'app.asar.unpacked', 'node_modules', '@node-datachannel', p);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'node_datachannel.node'), '');
    }
    return d;
  };

  it('passes a build with only its own binary', async () => {
    expect(checkPrebuilds(await resources(['darwin-arm64']), 'darwin', 'arm64')).toEqual([]);
    expect(checkPrebuilds(await resources(['win32-x64-msvc']), 'win32', 'x64')).toEqual([]);
  });
  it('fails a build without its binary, or with another one', async () => {
    expect(checkPrebuilds(await resources(['darwin-arm64']), 'darwin', 'x64').join()).toMatch(
      /missing @node-datachannel\/darwin-x64.*other platforms packed: darwin-arm64/,
    );
    expect(
      checkPrebuilds(await resources(['linux-x64-gnu', 'linux-arm64-gnu']), 'linux', 'x64').join(),
    ).toMatch(/other platforms packed: linux-arm64-gnu/);
    expect(checkPrebuilds(await resources([]), 'linux', 'x64').join()).toMatch(/missing/);
  });
});

describe('macOS entitlements', () => {
  it('hold only allow-jit: no sandbox, no sandbox-only network keys, no library-validation opt-out', async () => {
    const plist = await readFile(join(ROOT, 'assets', 'entitlements.mac.plist'), 'utf8');
    const body = plist.replace(/<!--[\s\S]*?-->/g, '');
    const keys = [...body.matchAll(/<key>([^<]+)<\/key>\s*<(true|false)\/>/g)].map((m) => [m[1], m[2]]);
    expect(keys).toEqual([['com.apple.security.cs.allow-jit', 'true']]);
    const c = await yamlConfig();
    expect(c.mac.entitlements).toBe('entitlements.mac.plist');
    expect(c.mac.entitlementsInherit).toBe('entitlements.mac.plist');
  });
});

describe('package.json', () => {
  it("engines.node admits no Node version an installed dependency's engines refuse", async () => {
    const semver = require('semver');
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8'));
    const min = semver.minVersion(pkg.engines.node);
    const refused: string[] = [];
    const { existsSync } = await import('node:fs');
    for (const [path, entry] of Object.entries(lock.packages as Record<string, Config>)) {
      const range = entry.engines?.node;
      if (!path || typeof range !== 'string') continue;
      // Platform-specific optional packages this machine did not install (wasm fallbacks…).
      if (entry.optional && !existsSync(join(ROOT, path))) continue;
      if (!semver.satisfies(min, range)) refused.push(`${path} (${range})`);
    }
    expect(refused, `engines.node ${pkg.engines.node} is below what these need`).toEqual([]);
  });

  it('npm start checks the Electron binary first; npm run dist never publishes', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toMatch(/^node scripts\/check-electron\.mjs && /);
    expect(pkg.scripts.dist).toContain('node scripts/native-prebuilds.mjs');
    expect(pkg.scripts.dist).toContain('--config electron-builder.config.mjs --publish never');
  });
});
