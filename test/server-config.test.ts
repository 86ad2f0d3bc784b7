/**
 * `swarmcast server` settings (server/config.ts): flag > env > config file > default for each
 * kind of setting, secrets refused as flags and read from env or *_FILE, unknown keys and bad
 * values named with their source, YAML and JSON files; then one real server started from a
 * config file with its stream keys in the environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { type ComChannelInfo, channelInfoPath } from '../common/com';
import { originPaths } from '../common/manifest';
import {
  ConfigError,
  type ResolveInput,
  resolveServerConfig,
  type ServerConfig,
  toServerOptions,
} from '../server/config';
import { silentLogger } from '../server/log';
import { DEMO_FLV, removeTempDirs, tempDir } from './support/helpers';

const ROOT = join(import.meta.dirname, '..');

/** resolveServerConfig over an in-memory file system (path → [text, mode]). */
function resolve(
  argv: string[],
  env: Record<string, string> = {},
  files: Record<string, string | [string, number]> = {},
) {
  const entry = (path: string) => {
    const f = files[path];
    if (f === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return typeof f === 'string' ? ([f, 0o600] as const) : f;
  };
  const input: ResolveInput = {
    argv,
    env,
    readFile: (path) => entry(path)[0],
    fileMode: (path) => 0o100000 | entry(path)[1],
    homeDir: '/home/op',
  };
  const result = resolveServerConfig(input);
  if (result.help) throw new Error('unexpected --help');
  return result;
}

const config = (...args: Parameters<typeof resolve>): ServerConfig => resolve(...args).config;

function problem(...args: Parameters<typeof resolve>): string {
  try {
    resolve(...args);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

const CONF = '/etc/swarmcast/server.yaml';

interface PrecedenceRow {
  key: string;
  flag: string[];
  env: Record<string, string>;
  file: string;
  pick: (c: ServerConfig) => unknown;
  values: { flag: unknown; env: unknown; file: unknown; default: unknown };
}

const ROWS: PrecedenceRow[] = [
  {
    key: 'httpPort',
    flag: ['--http-port', '1001'],
    env: { SWARMCAST_HTTP_PORT: '1002' },
    file: 'httpPort: 1003',
    pick: (c) => c.httpPort,
    values: { flag: 1001, env: 1002, file: 1003, default: 8080 },
  },
  {
    key: 'publicUrl',
    flag: ['--public-url', 'https://flag.example'],
    env: { SWARMCAST_PUBLIC_URL: 'https://env.example' },
    file: 'publicUrl: https://file.example',
    pick: (c) => c.publicUrl,
    values: {
      flag: 'https://flag.example',
      env: 'https://env.example',
      file: 'https://file.example',
      default: undefined,
    },
  },
  {
    key: 'subRoomSize',
    flag: ['--sub-room-size', '10'],
    env: { SWARMCAST_SUB_ROOM_SIZE: '20' },
    file: 'subRoomSize: 30',
    pick: (c) => c.subRoomSize,
    values: { flag: 10, env: 20, file: 30, default: undefined },
  },
  {
    key: 'logServers',
    flag: ['--log-servers', 'http://a.example', '--log-servers', 'http://b.example'],
    env: { SWARMCAST_LOG_SERVERS: 'http://c.example, http://d.example' },
    file: 'logServers: [http://e.example]',
    pick: (c) => c.logServers,
    values: {
      flag: ['http://a.example', 'http://b.example'],
      env: ['http://c.example', 'http://d.example'],
      file: ['http://e.example'],
      default: undefined,
    },
  },
  {
    key: 'rtmp',
    flag: ['--no-rtmp'],
    // On/off switches only turn off as flags; env can turn back on what the file turned off.
    env: { SWARMCAST_RTMP: 'true' },
    file: 'rtmp: false\nrtmpPort: 2003',
    pick: (c) => c.rtmpPort,
    values: { flag: null, env: 2003, file: null, default: 1935 },
  },
  {
    key: 'logs',
    flag: ['--no-logs'],
    env: { SWARMCAST_LOGS: 'on' },
    file: 'logs: false',
    pick: (c) => c.logService,
    values: { flag: false, env: true, file: false, default: true },
  },
  {
    key: 'drainMs',
    flag: ['--drain-ms', '100'],
    env: { SWARMCAST_DRAIN_MS: '200' },
    file: 'drainMs: 300',
    pick: (c) => c.drainMs,
    values: { flag: 100, env: 200, file: 300, default: undefined },
  },
  {
    key: 'logLevel',
    flag: ['--log-level', 'debug'],
    env: { SWARMCAST_LOG_LEVEL: 'warn' },
    file: 'logLevel: error',
    pick: (c) => c.logLevel,
    values: { flag: 'debug', env: 'warn', file: 'error', default: 'info' },
  },
  {
    key: 'dataDir (relative in the file: next to the file)',
    flag: ['--data', '/srv/flag'],
    env: { SWARMCAST_DATA_DIR: '/srv/env' },
    file: 'dataDir: data',
    pick: (c) => c.dataDir,
    values: {
      flag: '/srv/flag',
      env: '/srv/env',
      file: '/etc/swarmcast/data',
      default: '/home/op/.swarmcast/server',
    },
  },
];

describe('precedence: flag > env > config file > default', () => {
  describe.each(ROWS)('$key', (row) => {
    const files = { [CONF]: row.file };
    const withConf = ['--config', CONF];
    it('flag beats env and file', () => {
      expect(row.pick(config([...withConf, ...row.flag], row.env, files))).toEqual(row.values.flag);
    });
    it('env beats file', () => {
      expect(row.pick(config(withConf, row.env, files))).toEqual(row.values.env);
    });
    it('file beats default (file named by SWARMCAST_CONFIG too)', () => {
      expect(row.pick(config(withConf, {}, files))).toEqual(row.values.file);
      expect(row.pick(config([], { SWARMCAST_CONFIG: CONF }, files))).toEqual(row.values.file);
    });
    it('default', () => {
      expect(row.pick(config([]))).toEqual(row.values.default);
    });
  });

  it('the defaults as a whole, and as startServer options', () => {
    const c = config([]);
    expect(c).toMatchObject({
      host: '0.0.0.0',
      demo: true,
      stunPort: undefined,
      metrics: true,
      turn: undefined,
    });
    expect(c.streamKeys.size).toBe(0);
    const log = silentLogger();
    const opts = toServerOptions(config(['--no-stun', '--stun-port', '5']), log);
    expect(opts).toMatchObject({ stunPort: null, log });
    expect(opts).not.toHaveProperty('logLevel');
  });

  it('an empty environment variable counts as unset', () => {
    expect(config([], { SWARMCAST_HTTP_PORT: '' }).httpPort).toBe(8080);
  });
});

describe('secrets', () => {
  it.each([
    [['--stream-key', 'k=c'], 'SWARMCAST_STREAM_KEYS'],
    [['--turn-pass', 'p'], 'SWARMCAST_TURN_PASSWORD'],
    [['--turn-secret=s'], 'SWARMCAST_TURN_SECRET'],
    [['--http-port', '1', '--metrics-token', 't'], 'SWARMCAST_METRICS_TOKEN'],
  ])('%j is refused, saying where the secret goes', (argv, envVar) => {
    const msg = problem(argv);
    expect(msg).toContain('not taken on the command line');
    expect(msg).toContain(envVar);
    expect(msg).toContain(`${envVar}_FILE`);
    expect(msg).toContain('--config');
  });

  it('from env: stream keys (the key may hold "="), TURN password, metrics token', () => {
    const c = config(['--turn', 'turn:relay.example:3478', '--turn-user', 'u'], {
      SWARMCAST_STREAM_KEYS: 'abc==cam, k2=two',
      SWARMCAST_TURN_PASSWORD: 'pw',
      SWARMCAST_METRICS_TOKEN: 'tok',
    });
    expect([...c.streamKeys]).toEqual([
      ['abc=', 'cam'],
      ['k2', 'two'],
    ]);
    expect(c.turn).toEqual({ urls: ['turn:relay.example:3478'], username: 'u', credential: 'pw' });
    expect(c.metricsToken).toBe('tok');
  });

  it('from *_FILE, without the trailing newline; one stream key a line', () => {
    const c = config(
      ['--turn-ttl', '600'],
      {
        SWARMCAST_TURN_URLS: 'turn:a.example:3478,turns:b.example:5349',
        SWARMCAST_TURN_SECRET_FILE: '/run/credentials/turn',
        SWARMCAST_STREAM_KEYS_FILE: '/run/credentials/keys',
      },
      { '/run/credentials/turn': 's3cret\n', '/run/credentials/keys': 'k1=one\nk2=two\n' },
    );
    expect(c.turn).toEqual({
      urls: ['turn:a.example:3478', 'turns:b.example:5349'],
      secret: 's3cret',
      ttlSeconds: 600,
    });
    expect(Object.fromEntries(c.streamKeys)).toEqual({ k1: 'one', k2: 'two' });
  });

  it('*_FILE problems: unreadable, or set together with the plain variable', () => {
    expect(problem([], { SWARMCAST_METRICS_TOKEN_FILE: '/nope' })).toMatch(
      /metricsToken: cannot read SWARMCAST_METRICS_TOKEN_FILE \/nope: ENOENT/,
    );
    expect(
      problem(
        [],
        { SWARMCAST_METRICS_TOKEN: 'a', SWARMCAST_METRICS_TOKEN_FILE: '/run/t' },
        { '/run/t': 'b' },
      ),
    ).toContain('both SWARMCAST_METRICS_TOKEN and SWARMCAST_METRICS_TOKEN_FILE');
  });

  it('env secrets beat the config file; a bad secret is named but never echoed', () => {
    const files = { [CONF]: 'metricsToken: from-file\nstreamKeys: { k: cam }' };
    expect(config(['--config', CONF], { SWARMCAST_METRICS_TOKEN: 'from-env' }, files).metricsToken).toBe(
      'from-env',
    );
    const msg = problem([], { SWARMCAST_STREAM_KEYS: 'hunter2=Bad Channel' });
    expect(msg).toContain('streamKeys from env SWARMCAST_STREAM_KEYS');
    expect(msg).not.toContain('hunter2');
  });

  it('warns when the config file holding secrets is readable by others', () => {
    const secretFile = 'streamKeys:\n  k: cam\n';
    const open = resolve(['--config', CONF], {}, { [CONF]: [secretFile, 0o644] });
    expect(open.warnings).toHaveLength(1);
    expect(open.warnings[0]).toMatch(/holds secrets \(streamKeys\).*mode 644.*chmod 600/);
    expect(resolve(['--config', CONF], {}, { [CONF]: [secretFile, 0o600] }).warnings).toEqual([]);
    expect(resolve(['--config', CONF], {}, { [CONF]: ['httpPort: 1', 0o644] }).warnings).toEqual([]);
  });

  it('TURN needs one complete kind of credentials, and URLs', () => {
    const urls = ['--turn', 'turn:r.example:3478'];
    expect(problem(urls)).toContain('TURN URLs need credentials');
    expect(problem(urls, { SWARMCAST_TURN_USER: 'u' })).toContain('TURN URLs need credentials');
    expect(problem(urls, { SWARMCAST_TURN_PASSWORD: 'p', SWARMCAST_TURN_SECRET: 's' })).toContain('not both');
    expect(problem([...urls, '--turn-ttl', '60'])).toContain('turnTtl applies to a TURN shared secret');
    expect(problem([], { SWARMCAST_TURN_SECRET: 's' })).toContain('no TURN URLs');
  });
});

describe('errors name the setting and where the value came from', () => {
  it('unknown keys in the file', () => {
    const msg = problem(['--config', CONF], {}, { [CONF]: 'httpPort: 1\nhttpProt: 2\nturnPass: x\n' });
    expect(msg).toContain(`config file ${CONF}: unknown setting "httpProt"`);
    expect(msg).toContain('unknown setting "turnPass"');
  });

  it('bad values from a flag, env var and the file, all reported at once', () => {
    const msg = problem(
      ['--config', CONF, '--http-port', '70000'],
      { SWARMCAST_SUB_ROOM_SIZE: 'lots', SWARMCAST_DEMO: 'maybe' },
      { [CONF]: 'publicUrl: ftp://x.example\nturnUrls: [http://r.example]\nstreamKeys: { k: "Cam!" }' },
    );
    expect(msg).toContain('httpPort from --http-port: must be a port (0-65535) (got "70000")');
    expect(msg).toContain('subRoomSize from env SWARMCAST_SUB_ROOM_SIZE: must be an integer (got "lots")');
    expect(msg).toContain('demo from env SWARMCAST_DEMO: must be true or false');
    expect(msg).toContain(`publicUrl from ${CONF}: must be a http: or https: URL`);
    expect(msg).toContain(`turnUrls.0 from ${CONF}: must be a turn: or turns: URL`);
    expect(msg).toContain(`streamKeys.k from ${CONF}: channel names use a-z`);
  });

  it('bad YAML, a missing file, unknown flags', () => {
    expect(problem(['--config', CONF], {}, { [CONF]: 'httpPort: [1' })).toContain(`config file ${CONF}:`);
    expect(problem(['--config', '/missing.yaml'])).toContain('config file /missing.yaml: ENOENT');
    expect(problem(['--htp-port', '1'])).toContain("Unknown option '--htp-port'");
  });

  it('--help is answered before anything is checked', () => {
    const r = resolveServerConfig({ argv: ['-h'], env: { SWARMCAST_HTTP_PORT: 'x' }, readFile: () => '' });
    expect(r.help).toBe(true);
  });
});

describe('config file formats', () => {
  it('YAML and JSON files give the same settings', () => {
    const yaml = `# origin behind the CDN
host: 127.0.0.1
httpPort: 8081
demo: false
stun: false
turnUrls:
  - turn:relay.example:3478
turnSecret: abc
turnTtl: 3600
streamKeys:
  "k=": cam
`;
    const json = JSON.stringify({
      host: '127.0.0.1',
      httpPort: 8081,
      demo: false,
      stun: false,
      turnUrls: ['turn:relay.example:3478'],
      turnSecret: 'abc',
      turnTtl: 3600,
      streamKeys: { 'k=': 'cam' },
    });
    const a = config(['--config', '/a.yaml'], {}, { '/a.yaml': yaml });
    const b = config(['--config', '/b.json'], {}, { '/b.json': json });
    expect(a).toEqual(b);
    expect(a).toMatchObject({ host: '127.0.0.1', httpPort: 8081, demo: false, stunPort: null });
    expect(a.turn).toEqual({ urls: ['turn:relay.example:3478'], secret: 'abc', ttlSeconds: 3600 });
  });

  it('an empty file is no settings; a file that is not a mapping is an error', () => {
    expect(config(['--config', '/e.yaml'], {}, { '/e.yaml': '' }).httpPort).toBe(8080);
    expect(problem(['--config', '/l.yaml'], {}, { '/l.yaml': '- 1\n- 2' })).toContain(
      '(top level) from /l.yaml',
    );
  });
});

describe('swarmcast server from a config file (end to end)', () => {
  let child: ChildProcess | null = null;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await removeTempDirs();
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['bin/swarmcast.mjs', '--version'], { cwd: ROOT });
      let text = '';
      p.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}`))));
    });
    expect(out).toBe(`swarmcast ${pkg.version}\n`);
  });

  it('takes publicUrl and host from the file and stream keys from the environment', async () => {
    const dir = await tempDir();
    const conf = join(dir, 'server.yaml');
    await writeFile(conf, 'host: 127.0.0.1\npublicUrl: https://cdn.example.org/live\nsubRoomSize: 5\n');
    await chmod(conf, 0o600);
    child = spawn(
      process.execPath,
      [
        'bin/swarmcast.mjs',
        'server',
        '--config',
        conf,
        '--http-port',
        '0',
        '--no-rtmp',
        '--stun-port',
        '0',
        '--no-demo',
        '--data',
        join(dir, 'data'),
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, SWARMCAST_LOG_LEVEL: 'silent', SWARMCAST_STREAM_KEYS: 'Zm9v==cam' },
      },
    );
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<{ event: string; http: string; httpPort: number; rtmp: null }>(
      (resolve, reject) => {
        lines.once('line', (line) => resolve(JSON.parse(line)));
        child!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      },
    );
    expect(ready).toMatchObject({ event: 'ready', http: `http://127.0.0.1:${ready.httpPort}`, rtmp: null });
    const base = `http://127.0.0.1:${ready.httpPort}`;
    const clip = new Uint8Array(await readFile(DEMO_FLV));
    // With stream keys configured, the channel name is no longer a key. The refusal is decided
    // on the request line, so only the FLV header is sent: a whole clip could still be in
    // flight when the server answers and closes, and the client would see EPIPE, not the 403.
    const refused = await fetch(`${base}${originPaths.ingest('cam')}`, {
      method: 'POST',
      body: clip.subarray(0, 13),
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await refused.arrayBuffer();
    const pushed = await fetch(`${base}${originPaths.ingest('Zm9v=')}`, { method: 'POST', body: clip });
    expect(pushed.status).toBe(200);
    await pushed.arrayBuffer();
    const res = await fetch(`${base}${channelInfoPath('cam')}`);
    expect(res.status).toBe(200);
    const info = (await res.json()) as ComChannelInfo;
    expect(info.originBaseUrl).toBe('https://cdn.example.org/live');
    expect(info.tracker.url).toBe('wss://cdn.example.org/live/tracker');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = null;
  });
});
