/**
 * A clean install: no dependency's install script runs unless package.json's `allowScripts`
 * reviewed it (`npm install-scripts ls`, npm 11.19+), and a missing Electron binary ends
 * `npm start` with the mirror setting and the exact commands instead of a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const npm = (args: string[]) =>
  spawnSync('npm', args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    shell: process.platform === 'win32',
  });

const help = npm(['help', 'install-scripts']);
const hasInstallScripts = help.status === 0 && /install-scripts ls/.test(help.stdout);

describe('npm install-scripts', () => {
  it.skipIf(!hasInstallScripts)(
    hasInstallScripts
      ? 'lists nothing unreviewed (every install script is approved or denied in allowScripts)'
      : `SKIPPED: the npm in PATH (${npm(['--version']).stdout.trim()}) has no install-scripts command (npm 11.19+)`,
    () => {
      const ls = npm(['install-scripts', 'ls', '--json']);
      expect(ls.status, ls.stderr).toBe(0);
      const listed = (JSON.parse(ls.stdout) as { allowScripts: unknown[] }).allowScripts;
      expect(
        listed,
        `unreviewed install scripts: ${ls.stdout}\nreview them, then npm install-scripts approve|deny`,
      ).toEqual([]);
      // The human form says the same.
      expect(npm(['install-scripts', 'ls']).stdout).toMatch(/No packages with unreviewed install scripts/);
    },
  );

  it('allowScripts has no stale entries and denies electron-winstaller', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      allowScripts: Record<string, boolean>;
    };
    expect(pkg.allowScripts['electron-winstaller']).toBe(false);
    if (!hasInstallScripts) return;
    const prune = npm(['install-scripts', 'prune', '--dry-run']);
    expect(prune.status, prune.stderr).toBe(0);
    expect(prune.stdout, 'allowScripts names packages without install scripts').not.toMatch(/Would remove/);
  });
});

const CHECK = join(ROOT, 'scripts', 'check-electron.mjs');
const electronDir = dirname(fileURLToPath(import.meta.resolve('electron/package.json')));
const binaryPresent = (() => {
  const pathTxt = join(electronDir, 'path.txt');
  return existsSync(pathTxt) && existsSync(join(electronDir, 'dist', readFileSync(pathTxt, 'utf8').trim()));
})();

describe('scripts/check-electron.mjs (run first by npm start)', () => {
  const run = (env: Record<string, string>, args: string[] = []) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(ELECTRON_|npm_config_electron_)/i.test(k)),
    );
    return spawnSync(process.execPath, [CHECK, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...clean, ...env },
    });
  };

  it.skipIf(binaryPresent)('names the mirror setting with the exact commands when the download fails', () => {
    // A mirror nobody listens on: the download fails at once, as it does offline.
    const r = run({ ELECTRON_MIRROR: 'http://127.0.0.1:9/' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('the download failed');
    expect(r.stderr).toContain('the mirror http://127.0.0.1:9/');
    expect(r.stderr).toContain(
      'ELECTRON_MIRROR=https://npmmirror.com/mirrors/electron/ npx install-electron --no',
    );
    expect(r.stderr).toContain('electron_mirror=https://npmmirror.com/mirrors/electron/');
    expect(r.stderr).toContain('npm run web');
    expect(existsSync(join(electronDir, 'path.txt'))).toBe(false);
  });

  it.skipIf(binaryPresent)('does not download when ELECTRON_SKIP_BINARY_DOWNLOAD is set, and says so', () => {
    const r = run({ ELECTRON_SKIP_BINARY_DOWNLOAD: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ELECTRON_SKIP_BINARY_DOWNLOAD is set');
    expect(r.stderr).toContain('ELECTRON_MIRROR');
  });

  it.skipIf(!binaryPresent)('passes when the binary is there', () => {
    expect(run({}, ['--no-download']).status).toBe(0);
  });
});
