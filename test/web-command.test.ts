/**
 * `swarmcast web` (npm run web): one readable line with the address, the JSON ready line for
 * scripts when stdout is not a terminal, and the browser opened only when someone is looking.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openerCommand, shouldOpenBrowser } from '../main/open-browser';
import { until } from './support/media';
import { BIN, runSwarmcast } from './support/processes';

const READABLE =
  /^Swarmcast is running at (http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+\/) — press Ctrl\+C to stop$/m;

describe('shouldOpenBrowser', () => {
  const cases: Array<
    [string, { noOpenFlag: boolean; env: NodeJS.ProcessEnv; stdoutIsTty: boolean }, boolean]
  > = [
    ['a terminal, nothing set', { noOpenFlag: false, env: {}, stdoutIsTty: true }, true],
    ['--no-open', { noOpenFlag: true, env: {}, stdoutIsTty: true }, false],
    ['SWARMCAST_NO_OPEN=1', { noOpenFlag: false, env: { SWARMCAST_NO_OPEN: '1' }, stdoutIsTty: true }, false],
    ['SWARMCAST_NO_OPEN=0', { noOpenFlag: false, env: { SWARMCAST_NO_OPEN: '0' }, stdoutIsTty: true }, true],
    [
      'SWARMCAST_NO_OPEN empty',
      { noOpenFlag: false, env: { SWARMCAST_NO_OPEN: '' }, stdoutIsTty: true },
      true,
    ],
    ['CI=true', { noOpenFlag: false, env: { CI: 'true' }, stdoutIsTty: true }, false],
    ['CI=false', { noOpenFlag: false, env: { CI: 'false' }, stdoutIsTty: true }, true],
    ['stdout piped', { noOpenFlag: false, env: {}, stdoutIsTty: false }, false],
  ];
  it.each(cases)('%s', (_name, opts, open) => {
    const d = shouldOpenBrowser(opts);
    expect(d.open).toBe(open);
    if (!open) expect(d.reason).toBeTruthy();
  });
});

describe('openerCommand', () => {
  const url = 'http://127.0.0.1:40123/AbC-d_9/';
  it.each([
    ['darwin', { cmd: 'open', args: [url] }],
    ['win32', { cmd: 'cmd', args: ['/d', '/c', 'start', '""', url] }],
    ['linux', { cmd: 'xdg-open', args: [url] }],
    ['freebsd', { cmd: 'xdg-open', args: [url] }],
  ] as const)('%s', (platform, expected) => {
    expect(openerCommand(url, platform)).toEqual(expected);
  });
  it.each([
    'http://127.0.0.1:1/a&calc',
    'http://127.0.0.1:1/a|b',
    'http://127.0.0.1:1/"x"',
    'http://127.0.0.1:1/a b',
    'file:///etc/passwd',
    'javascript:alert(1)',
    '-n http://x/',
  ])('refuses %s', (bad) => {
    expect(openerCommand(bad, 'win32')).toBeNull();
    expect(openerCommand(bad, 'linux')).toBeNull();
  });
});

describe('swarmcast web output', () => {
  let dir = '';
  let renderer = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmcast-webcmd-'));
    renderer = join(dir, 'renderer');
    await mkdir(renderer);
    await writeFile(join(renderer, 'index.html'), '<!doctype html><title>t</title>');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  // A server nobody listens on: the core starts anyway (it reports the server unreachable).
  const args = (data: string) => [
    'web',
    '--server',
    'http://127.0.0.1:9',
    '--data',
    data,
    '--renderer',
    renderer,
  ];

  it('piped stdout: the JSON ready line and the readable line; no browser', async () => {
    const cmd = runSwarmcast(args(join(dir, 'piped')), { SWARMCAST_LOG_LEVEL: 'info', CI: '' });
    let out = '';
    cmd.child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      await until(() => READABLE.test(out) || cmd.child.exitCode !== null, 30_000, 'web ready');
      const ready = cmd.lines.find((l) => l.event === 'ready');
      expect(ready, cmd.stderr.join('')).toBeDefined();
      expect(out.match(READABLE)?.[1]).toBe(ready?.url);
      await until(() => cmd.stderr.join('').includes('not opening a browser'), 10_000, 'log line');
      expect(cmd.stderr.join('')).toContain('stdout is not a terminal');
    } finally {
      cmd.child.kill('SIGTERM');
      await cmd.exited;
    }
  });

  // A real terminal (util-linux `script`) and a stand-in xdg-open that records its argument.
  const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;
  const inTerminal = async (extra: string[], env: Record<string, string>) => {
    const bin = join(dir, `bin-${Math.random().toString(36).slice(2)}`);
    const opened = join(bin, 'opened.txt');
    await mkdir(bin);
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    await chmod(join(bin, 'xdg-open'), 0o755);
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const command = [process.execPath, BIN, ...args(join(bin, 'data')), ...extra].map(quote).join(' ');
    const baseEnv = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !['CI', 'SWARMCAST_NO_OPEN', 'SWARMCAST_LOG_LEVEL'].includes(k),
      ),
    );
    const child: ChildProcess = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...baseEnv, PATH: `${bin}:${process.env.PATH}`, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString().replaceAll('\r', '');
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const stop = async () => {
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {
        // gone
      }
      await exited;
    };
    return { out: () => out, opened, stop };
  };

  it.skipIf(!hasScript)(
    'on a terminal: only the readable line, and the browser opens on the address',
    async () => {
      const t = await inTerminal([], {});
      try {
        await until(() => READABLE.test(t.out()), 30_000, `readable line in ${JSON.stringify(t.out())}`);
        const url = t.out().match(READABLE)?.[1];
        await until(
          async () => (await readFile(t.opened, 'utf8').catch(() => '')) === url,
          10_000,
          'xdg-open called',
        );
        expect(t.out()).not.toContain('"event":"ready"');
        // The info-level JSON logs stay quiet on a terminal.
        expect(t.out()).not.toMatch(/"level":30/);
      } finally {
        await t.stop();
      }
    },
  );

  it.skipIf(!hasScript)('on a terminal with --no-open or SWARMCAST_NO_OPEN=1: no browser', async () => {
    for (const [extra, env] of [
      [['--no-open'], {}],
      [[], { SWARMCAST_NO_OPEN: '1' }],
    ] as const) {
      const t = await inTerminal([...extra], { ...env });
      try {
        await until(() => READABLE.test(t.out()), 30_000, 'readable line');
        await new Promise((r) => setTimeout(r, 500));
        expect(await readFile(t.opened, 'utf8').catch(() => null)).toBeNull();
      } finally {
        await t.stop();
      }
    }
  });
});
