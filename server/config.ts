/**
 * `swarmcast server` settings from the command line, the environment and a config file, so the
 * server deploys like any service (systemd unit, container) without a wrapper script.
 *
 * Precedence, per setting: command-line flag > environment variable > config file > default.
 * Lists (turnUrls, logServers, streamKeys) are replaced as a whole by a higher layer, never merged,
 * so what one layer says is what runs.
 *
 * Secrets (stream keys, TURN password, TURN shared secret, metrics token) are refused as flags:
 * a command line is readable by every local user (ps, /proc/PID/cmdline) and lands in shell
 * history and unit files. They come from the config file, from SWARMCAST_<NAME>, or from the file
 * SWARMCAST_<NAME>_FILE names (systemd LoadCredential=, Docker/Kubernetes secret mounts).
 *
 * resolveServerConfig is pure (argv, env and file access are passed in) so tests cover every layer
 * without processes or real files.
 */
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { httpUrlSchema, MAX_ICE_URLS, MAX_LOG_SERVERS } from '../common/com';
import { CHANNEL_ID_PATTERN } from '../common/manifest';
import type { TurnOptions } from './com/com-service';
import { type PrefixTableConfig, prefixTableSchema } from './geo/prefix-table';
import type { Logger } from './log';
import type { ServerOptions } from './run-server';
import { SHARD_ID_PATTERN } from './shards/redis-keys';

const port = z
  .number()
  .int('must be an integer')
  .min(0, 'must be a port (0-65535)')
  .max(65535, 'must be a port (0-65535)');
const nonEmpty = z.string().min(1, 'must not be empty');
const turnUrl = z.string().regex(/^turns?:\S+$/, 'must be a turn: or turns: URL');
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The config file's shape: every key optional, unknown keys refused (a typo must not be ignored). */
export const serverSettingsSchema = z
  .strictObject({
    host: nonEmpty,
    httpPort: port,
    rtmp: z.boolean(),
    rtmpPort: port,
    dataDir: nonEmpty,
    demo: z.boolean(),
    demoClip: nonEmpty,
    streamKeys: z.record(
      nonEmpty,
      z.string().regex(CHANNEL_ID_PATTERN, 'channel names use a-z, 0-9, _ and - (up to 64)'),
    ),
    stun: z.boolean(),
    stunPort: port,
    publicUrl: httpUrlSchema,
    turnUrls: z.array(turnUrl).max(MAX_ICE_URLS),
    turnUser: nonEmpty,
    turnPassword: nonEmpty,
    turnSecret: nonEmpty,
    turnTtl: z.number().int('must be an integer').min(1, 'must be at least 1 (seconds)'),
    subRoomSize: z.number().int('must be an integer').min(1, 'must be at least 1'),
    logServers: z.array(httpUrlSchema).max(MAX_LOG_SERVERS),
    logs: z.boolean(),
    metrics: z.boolean(),
    metricsToken: nonEmpty,
    seedSecret: nonEmpty,
    drainMs: z.number().int('must be an integer').min(0, 'must be 0 or more (ms)'),
    logLevel: z.enum(LOG_LEVELS),
    redis: z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL'),
    redisPassword: nonEmpty,
    geoDbs: z.array(nonEmpty).max(8),
    ispPrefixes: prefixTableSchema,
    ticketKey: z
      .string()
      .regex(/^[A-Za-z0-9+/]{40,200}={0,2}$/, 'must be the server key (SPKI DER in base64)'),
    ticketKeyFile: nonEmpty,
    shardId: z.string().regex(SHARD_ID_PATTERN, 'a-z, A-Z, 0-9, _ . - (up to 64)'),
    shardCapacity: z.number().int('must be an integer').min(1, 'must be at least 1'),
  })
  .partial();

export type ServerSettings = z.infer<typeof serverSettingsSchema>;
export type SettingKey = keyof ServerSettings;

type Kind = 'string' | 'int' | 'bool' | 'list' | 'keys' | 'json';

export interface SettingInfo {
  key: SettingKey;
  kind: Kind;
  /** The flag without dashes; booleans that default on only have an off switch, `--no-<flag>`. */
  flag?: string;
  /** Taken only from env / env _FILE / config file. */
  secret?: true;
  /** Placeholder shown in the usage text. */
  arg?: string;
  help: string;
}

/** One table row: `flag` is "name ARG" (null for secrets); on/off settings get just `--no-name`. */
function row(key: SettingKey, kind: Kind, flag: string | null, help: string): SettingInfo {
  if (flag === null) return { key, kind, secret: true, help };
  const [name, arg] = flag.split(' ');
  return { key, kind, flag: name, arg, help };
}

/** Every setting, in usage-text order. The env var is SWARMCAST_ + the key in UPPER_SNAKE. */
export const SETTINGS: readonly SettingInfo[] = [
  row('host', 'string', 'host ADDR', 'address to listen on (default 0.0.0.0)'),
  row('httpPort', 'int', 'http-port N', 'origin HTTP port (default 8080)'),
  row('rtmp', 'bool', 'rtmp', 'RTMP ingest on (default true)'),
  row('rtmpPort', 'int', 'rtmp-port N', 'RTMP port (default 1935; 0 = any)'),
  row('dataDir', 'string', 'data DIR', 'signing-key folder (default ~/.swarmcast/server)'),
  row('demo', 'bool', 'demo', 'run the demo channel (default true)'),
  row('demoClip', 'string', 'demo-clip FILE', 'FLV clip looped as the demo channel'),
  row('streamKeys', 'keys', null, 'KEY=CHANNEL,… publish keys (default: key = channel name)'),
  row('stun', 'bool', 'stun', 'STUN server on (default true)'),
  row('stunPort', 'int', 'stun-port N', 'STUN UDP port (default 3478, else any free; 0 = any)'),
  row('publicUrl', 'string', 'public-url URL', 'base URL viewers reach this server at'),
  row('turnUrls', 'list', 'turn URL', 'TURN server for viewers (repeatable; env: comma-separated)'),
  row('turnUser', 'string', 'turn-user U', 'TURN username (static credentials)'),
  row('turnPassword', 'string', null, 'TURN password (static credentials)'),
  row('turnSecret', 'string', null, 'coturn --static-auth-secret: hand out time-limited credentials'),
  row('turnTtl', 'int', 'turn-ttl S', 'lifetime of those credentials in seconds (default 6 h)'),
  row('subRoomSize', 'int', 'sub-room-size N', 'viewers per sub-room (default: no split)'),
  row('logServers', 'list', 'log-servers URL', 'log servers for viewers (repeatable; env: comma-separated)'),
  row('logs', 'bool', 'logs', 'run the log service, POST /api/reports (default true)'),
  row('metrics', 'bool', 'metrics', 'Prometheus GET /metrics (default true)'),
  row('metricsToken', 'string', null, 'bearer token GET /metrics requires'),
  row(
    'seedSecret',
    'string',
    null,
    'bearer token seed servers show for seed tickets (default: local seeds only)',
  ),
  row('drainMs', 'int', 'drain-ms MS', 'shutdown: time in-flight requests get (default 10000)'),
  row('logLevel', 'string', 'log-level LEVEL', `${LOG_LEVELS.join('|')} (default info)`),
  row('redis', 'string', 'redis URL', 'Redis shared by COMs and tracker shards (default: none, one process)'),
  row('redisPassword', 'string', null, 'Redis password (instead of one in the URL)'),
  row('geoDbs', 'list', 'geo-db FILE', 'MMDB file(s) for viewers’ ISP and region (repeatable)'),
  {
    key: 'ispPrefixes',
    kind: 'json',
    help: 'CIDR → {isp, region} table (config file; env: JSON)',
  },
  row('ticketKey', 'string', 'ticket-key KEY', 'tracker: the server key join tickets are signed with'),
  row('ticketKeyFile', 'string', 'ticket-key-file FILE', 'tracker: that key from a file (PEM or base64)'),
  row('shardId', 'string', 'shard-id ID', 'tracker: its id in the registry (default HOST-PORT)'),
  row('shardCapacity', 'int', 'capacity N', 'tracker: members it is meant to hold (default 20000)'),
];

/** Secret flags people will try, and the setting each one would have been. */
const SECRET_FLAGS: Readonly<Record<string, SettingKey>> = {
  'stream-key': 'streamKeys',
  'turn-pass': 'turnPassword',
  'turn-password': 'turnPassword',
  'turn-secret': 'turnSecret',
  'metrics-token': 'metricsToken',
  'seed-secret': 'seedSecret',
};

export const envName = (key: SettingKey): string =>
  `SWARMCAST_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** The command-line spelling of a setting (`--no-x` for on/off ones), or null for secrets. */
export function flagName(s: SettingInfo): string | null {
  if (!s.flag) return null;
  return s.kind === 'bool' ? `--no-${s.flag}` : `--${s.flag}`;
}

export interface ServerConfig {
  host: string;
  httpPort: number;
  /** null: no RTMP ingest. */
  rtmpPort: number | null;
  dataDir: string;
  demo: boolean;
  demoClip?: string;
  streamKeys: Map<string, string>;
  /** undefined: 3478 or any free port; null: no STUN server. */
  stunPort?: number | null;
  publicUrl?: string;
  turn?: TurnOptions;
  subRoomSize?: number;
  logServers?: string[];
  logService: boolean;
  metrics: boolean;
  metricsToken?: string;
  seedSecret?: string;
  drainMs?: number;
  logLevel: (typeof LOG_LEVELS)[number];
  redis?: string;
  redisPassword?: string;
  geoDbs?: string[];
  ispPrefixes?: PrefixTableConfig;
  /** `swarmcast tracker` only. */
  ticketKey?: string;
  ticketKeyFile?: string;
  shardId?: string;
  shardCapacity?: number;
}

export interface ResolveInput {
  /** The arguments after `swarmcast server`. */
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a whole text file; throws when it cannot. */
  readFile: (path: string) => string;
  /** A file's st_mode, for the permission warning; without it nothing is checked. */
  fileMode?: (path: string) => number;
  /** Base of the default data folder (default: os.homedir()). */
  homeDir?: string;
  /** HTTP port when no layer sets one (default 8080; `swarmcast logs` uses 8090). */
  defaultHttpPort?: number;
}

export type ResolveResult = { help: true } | { help: false; config: ServerConfig; warnings: string[] };

/** Every problem found, one a line, so a deploy is fixed in one round. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `bad configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Text from a flag, env var or secret file into the value the schema checks (or a reason it cannot be). */
function fromText(kind: Kind, text: string): { value: unknown } | { error: string } {
  const t = text.trim().toLowerCase();
  if (kind === 'int') return /^-?\d+$/.test(t) ? { value: Number(t) } : { error: 'must be an integer' };
  if (kind === 'bool') {
    if (['true', '1', 'yes', 'on'].includes(t)) return { value: true };
    return ['false', '0', 'no', 'off'].includes(t) ? { value: false } : { error: 'must be true or false' };
  }
  if (kind === 'list') return { value: splitList(text) };
  if (kind === 'string') return { value: text };
  if (kind === 'json') {
    try {
      return { value: JSON.parse(text) as unknown };
    } catch {
      return { error: 'must be JSON' };
    }
  }
  const out: Record<string, string> = {};
  // Split at the last "=": keys may end in base64 padding, channel names never hold one.
  for (const pair of splitList(text)) {
    const at = pair.lastIndexOf('=');
    if (at <= 0 || at === pair.length - 1) return { error: 'wants KEY=CHANNEL pairs, comma-separated' };
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { value: out };
}

/** Comma- or newline-separated (a secret file reads naturally one entry a line). */
const splitList = (text: string) =>
  text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/**
 * Checks one value (text from a flag or env var, or already typed) against its setting's schema
 * into `values`; a problem names the setting and where the value came from.
 */
function check(values: ServerSettings, s: SettingInfo, raw: unknown, from: string, problems: string[]): void {
  const parsed = typeof raw === 'string' ? fromText(s.kind, raw) : { value: raw };
  const result = 'error' in parsed ? null : serverSettingsSchema.shape[s.key].safeParse(parsed.value);
  if (result?.success) {
    (values as Record<string, unknown>)[s.key] = result.data;
    return;
  }
  const why = result ? (result.error.issues[0]?.message ?? 'invalid') : 'error' in parsed ? parsed.error : '';
  // Never echo a secret into logs; other values are shown so the typo is visible.
  problems.push(`${s.key} from ${from}: ${why}${s.secret ? '' : ` (got ${JSON.stringify(raw)})`}`);
}

function flagLayer(
  argv: readonly string[],
  problems: string[],
): { layer: ServerSettings; config?: string; help: boolean } {
  // Checked before parsing so the refusal explains itself instead of "Unknown option".
  for (const arg of argv) {
    if (arg === '--') break;
    const name = /^--([a-z-]+)(=|$)/.exec(arg)?.[1];
    const key = name === undefined ? undefined : SECRET_FLAGS[name];
    if (key) {
      throw new ConfigError([
        `--${name}: secrets are not taken on the command line (any local user can read it with ps); ` +
          `set ${envName(key)} or ${envName(key)}_FILE (a file holding it), or ${key} in the config file (--config)`,
      ]);
    }
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const s of SETTINGS) {
    const flag = flagName(s)?.slice(2);
    if (flag) options[flag] = { type: s.kind === 'bool' ? 'boolean' : 'string', multiple: s.kind === 'list' };
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError([`${err instanceof Error ? err.message : String(err)} (see --help)`]);
  }
  const layer: ServerSettings = {};
  for (const s of SETTINGS) {
    const flag = flagName(s);
    const v = flag ? values[flag.slice(2)] : undefined;
    // A `--no-x` switch present means off; repeated list flags arrive as an array.
    if (flag && v !== undefined) check(layer, s, s.kind === 'bool' ? false : v, flag, problems);
  }
  const config = typeof values.config === 'string' ? values.config : undefined;
  return { layer, config, help: values.help === true };
}

function envLayer(env: ResolveInput['env'], readFile: ResolveInput['readFile'], problems: string[]) {
  const layer: ServerSettings = {};
  // An empty variable counts as unset: compose files and unit templates leave `VAR=` lines around.
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  for (const s of SETTINGS) {
    const name = envName(s.key);
    let text = get(name);
    let from = `env ${name}`;
    const file = s.secret ? get(`${name}_FILE`) : undefined;
    if (file !== undefined) {
      if (text !== undefined) {
        problems.push(`${s.key}: both ${name} and ${name}_FILE are set; keep one`);
        continue;
      }
      from = `${name}_FILE (${file})`;
      try {
        // Files written with echo or an editor end in a newline that is not part of the secret.
        text = readFile(file).replace(/[\r\n]+$/, '');
      } catch (err) {
        problems.push(
          `${s.key}: cannot read ${name}_FILE ${file}: ${err instanceof Error ? err.message : err}`,
        );
        continue;
      }
    }
    if (text !== undefined) check(layer, s, text, from, problems);
  }
  return layer;
}

/** Settings holding file paths: relative ones in a config file are relative to that file, not the cwd. */
const PATH_KEYS: readonly SettingKey[] = ['dataDir', 'demoClip', 'ticketKeyFile'];

function fileLayer(
  path: string,
  input: ResolveInput,
  problems: string[],
  warnings: string[],
): ServerSettings {
  let doc: unknown;
  try {
    // YAML 1.2, so JSON files are read as they are; `yes`/`on` stay strings (no YAML 1.1 surprises).
    doc = parseYaml(input.readFile(path)) ?? {};
  } catch (err) {
    problems.push(`config file ${path}: ${err instanceof Error ? err.message : String(err)}`);
    return {};
  }
  const result = serverSettingsSchema.safeParse(doc);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(`config file ${path}: unknown setting "${key}"`);
      } else {
        const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
        problems.push(`${key} from ${path}: ${issue.message}`);
      }
    }
    return {};
  }
  const values: ServerSettings = { ...result.data };
  for (const key of PATH_KEYS) {
    const p = values[key];
    if (typeof p === 'string' && !isAbsolute(p))
      (values as Record<string, unknown>)[key] = join(dirname(path), p);
  }
  if (values.geoDbs) values.geoDbs = values.geoDbs.map((p) => (isAbsolute(p) ? p : join(dirname(path), p)));
  const secrets = SETTINGS.filter((s) => s.secret && values[s.key] !== undefined).map((s) => s.key);
  const mode = secrets.length > 0 ? input.fileMode?.(path) : undefined;
  if (mode !== undefined && (mode & 0o077) !== 0) {
    warnings.push(
      `config file ${path} holds secrets (${secrets.join(', ')}) but other users can read it ` +
        `(mode ${(mode & 0o777).toString(8).padStart(3, '0')}); chmod 600 it`,
    );
  }
  return values;
}

export function resolveServerConfig(input: ResolveInput): ResolveResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const flags = flagLayer(input.argv, problems);
  if (flags.help) return { help: true };
  const env = envLayer(input.env, input.readFile, problems);
  const configPath = flags.config ?? (input.env.SWARMCAST_CONFIG || undefined);
  const file = configPath === undefined ? null : fileLayer(configPath, input, problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems);

  const s: ServerSettings = { ...file, ...env, ...flags.layer };
  const turn = resolveTurn(s, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config: ServerConfig = {
    host: s.host ?? '0.0.0.0',
    httpPort: s.httpPort ?? input.defaultHttpPort ?? 8080,
    rtmpPort: s.rtmp === false ? null : (s.rtmpPort ?? 1935),
    dataDir: s.dataDir ?? join(input.homeDir ?? homedir(), '.swarmcast', 'server'),
    demo: s.demo ?? true,
    demoClip: s.demoClip,
    streamKeys: new Map(Object.entries(s.streamKeys ?? {})),
    // Unset: 3478, or a free port when 3478 is taken; given: that port or fail.
    stunPort: s.stun === false ? null : s.stunPort,
    publicUrl: s.publicUrl,
    turn,
    subRoomSize: s.subRoomSize,
    logServers: s.logServers,
    logService: s.logs ?? true,
    metrics: s.metrics ?? true,
    metricsToken: s.metricsToken,
    seedSecret: s.seedSecret,
    drainMs: s.drainMs,
    logLevel: s.logLevel ?? 'info',
    redis: s.redis,
    redisPassword: s.redisPassword,
    geoDbs: s.geoDbs,
    ispPrefixes: s.ispPrefixes,
    ticketKey: s.ticketKey,
    ticketKeyFile: s.ticketKeyFile,
    shardId: s.shardId,
    shardCapacity: s.shardCapacity,
  };
  return { help: false, config, warnings };
}

/** TURN comes in two flavours; exactly one must be complete when TURN URLs are given. */
function resolveTurn(s: ServerSettings, problems: string[]): TurnOptions | undefined {
  const urls = s.turnUrls ?? [];
  const withStatic = s.turnUser !== undefined || s.turnPassword !== undefined;
  const withSecret = s.turnSecret !== undefined || s.turnTtl !== undefined;
  if (urls.length === 0) {
    if (withStatic || withSecret) {
      problems.push('TURN credentials are set but no TURN URLs (--turn, SWARMCAST_TURN_URLS or turnUrls)');
    }
    return undefined;
  }
  if (withStatic && withSecret) {
    problems.push('TURN: use either turnUser + turnPassword or turnSecret (+ turnTtl), not both');
  } else if (s.turnSecret !== undefined) {
    return { urls, secret: s.turnSecret, ttlSeconds: s.turnTtl };
  } else if (s.turnTtl !== undefined) {
    problems.push('turnTtl applies to a TURN shared secret: set turnSecret (SWARMCAST_TURN_SECRET[_FILE])');
  } else if (s.turnUser !== undefined && s.turnPassword !== undefined) {
    return { urls, username: s.turnUser, credential: s.turnPassword };
  } else {
    problems.push(
      'TURN URLs need credentials: --turn-user with SWARMCAST_TURN_PASSWORD[_FILE], or SWARMCAST_TURN_SECRET[_FILE]',
    );
  }
  return undefined;
}

/** The resolved settings as startServer's options (logLevel is the logger's business). */
export function toServerOptions(config: ServerConfig, log: Logger): ServerOptions {
  const {
    logLevel: _level,
    redis,
    redisPassword,
    ticketKey: _key,
    ticketKeyFile: _keyFile,
    shardId: _id,
    shardCapacity: _capacity,
    ...options
  } = config;
  return {
    ...options,
    redis: redis === undefined ? undefined : { url: redis, password: redisPassword },
    log,
  };
}
