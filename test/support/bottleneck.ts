/**
 * A bottleneck lab in Linux network namespaces: host A's uplink goes through a router whose
 * egress is shaped with tbf (netem, fq, fq_codel and cake are not available on these machines;
 * tbf is, see ../shared/testing/README.md), plain routing without NAT.
 *
 *   core   100.72.0.1 on lo: swarmcast server (origin, COM, tracker, STUN); routes between
 *          gwA (100.72.1.0/24) and hostB (100.72.2.0/24)
 *   gwA    WAN 100.72.1.2, LAN 100.72.11.1: host A's "modem"; tbf on WAN egress = A's uplink,
 *          iptables counters on what A sends to B (UDP = peer traffic, TCP = the bulk flow)
 *   hostA  100.72.11.2: the uploading viewer (and, in the benchmark, a bulk TCP sender)
 *   hostB  100.72.2.2: downloading viewers (and the TCP sink); with `isolateB`, UDP over its
 *          loopback is dropped, so viewers in hostB cannot exchange segments with each other:
 *          host A's viewer is their only possible neighbour
 *
 * The queue builds up in gwA, not in the senders' own qdisc, so neither TCP's small-queue
 * limit nor a UDP socket's send buffer hides it: a full tbf queue shows as delay, as on a home
 * uplink. Namespace names carry the creating pid, so `sweepStaleLabs` can remove what a killed
 * run left behind. Needs root, iproute2 (tc) and iptables.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NetnsLab } from './netns';
import { BIN } from './processes';

// Shared-address space (100.64.0.0/10) inside namespaces this lab creates; nothing leaves them.
export const SERVER_IP = '100.72.0.1';
export const GW_A_WAN = '100.72.1.2';
export const HOST_A_IP = '100.72.11.2';
export const HOST_B_IP = '100.72.2.2';
export const BULK_TCP_SCRIPT = fileURLToPath(new URL('./bulk-tcp.ts', import.meta.url));
/** tsx's loader, by absolute URL: the script runs whatever the working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const NAME_RE = /^sctb([0-9a-z]+)x[0-9a-f]+_/;

/** A JSON line from a child, stamped with when it arrived here (epoch ms). */
export type TimedLine = Record<string, unknown> & { _at: number };

export interface TimedCommand {
  child: ChildProcess;
  lines: TimedLine[];
  stderr: string[];
  exited: Promise<number | null>;
  last(): TimedLine | undefined;
}

export interface Shaping {
  rateMbit: number;
  /** tbf `latency`: how long a packet may wait; sets the queue length (rate × latency). */
  latencyMs: number;
  burstKbit?: number;
}

export interface BottleneckOptions {
  uplink: Shaping;
  /** Drop UDP over hostB's loopback: its viewers cannot be each other's neighbours. */
  isolateB?: boolean;
  /**
   * TCP congestion control in hostA (the bulk sender's side). This host's default is bbr,
   * which keeps queues short; a home computer's TCP (cubic, reno) fills the queue until loss.
   * Only the algorithms in net.ipv4.tcp_allowed_congestion_control can be set outside the
   * root namespace (here: reno and bbr; cubic is loaded but not allowed).
   */
  tcpCongestion?: string;
}

/** Byte counters kept by iptables in gwA for traffic from host A to host B. */
export interface UplinkCounters {
  udpBytes: number;
  tcpBytes: number;
}

/** Statistics of the tbf qdisc on gwA's WAN egress. */
export interface QdiscStats {
  bytes: number;
  packets: number;
  drops: number;
  backlogBytes: number;
  /** How long the backlog takes to drain at the shaped rate. */
  backlogMs: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes bottleneck-lab namespaces whose creating process is gone (a run killed before its
 * teardown), with the processes left inside them, which only such a run can have started.
 */
export function sweepStaleLabs(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  } catch {
    return;
  }
  for (const entry of list.split('\n')) {
    const name = entry.split(' ')[0] ?? '';
    const m = NAME_RE.exec(name);
    if (!m || pidAlive(Number.parseInt(m[1]!, 36))) continue;
    try {
      const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 5000 });
      for (const pid of pids.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5000 });
    } catch {
      // removed meanwhile
    }
  }
}

export class BottleneckLab extends NetnsLab {
  readonly ns: { core: string; gwA: string; hostA: string; hostB: string };
  private shaping: Shaping;

  private constructor(prefix: string, shaping: Shaping) {
    super(prefix);
    this.shaping = shaping;
    this.ns = {
      core: `${prefix}_core`,
      gwA: `${prefix}_gwA`,
      hostA: `${prefix}_hostA`,
      hostB: `${prefix}_hostB`,
    };
  }

  /** Builds the topology; on failure whatever was built is removed again. */
  static async create(opts: BottleneckOptions): Promise<BottleneckLab> {
    sweepStaleLabs();
    const lab = new BottleneckLab(
      `sctb${process.pid.toString(36)}x${randomBytes(3).toString('hex')}`,
      opts.uplink,
    );
    try {
      await lab.build(opts);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(opts: BottleneckOptions): Promise<void> {
    const { ns } = this;
    for (const n of Object.values(ns)) await this.addNamespace(n);
    await this.ip(['-n', ns.core, 'addr', 'add', `${SERVER_IP}/32`, 'dev', 'lo']);
    await this.exec(ns.core, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // core <-> gwA <-> hostA
    await this.veth(ns.core, 'toA', '100.72.1.1/24', ns.gwA, 'wan', `${GW_A_WAN}/24`);
    await this.veth(ns.gwA, 'lan', '100.72.11.1/24', ns.hostA, 'eth0', `${HOST_A_IP}/24`);
    await this.exec(ns.gwA, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await this.ip(['-n', ns.gwA, 'route', 'add', 'default', 'via', '100.72.1.1']);
    await this.ip(['-n', ns.hostA, 'route', 'add', 'default', 'via', '100.72.11.1']);
    if (opts.tcpCongestion) {
      await this.exec(ns.hostA, 'sysctl', ['-qw', `net.ipv4.tcp_congestion_control=${opts.tcpCongestion}`]);
    }
    await this.ip(['-n', ns.core, 'route', 'add', '100.72.11.0/24', 'via', GW_A_WAN]);
    // core <-> hostB
    await this.veth(ns.core, 'toB', '100.72.2.1/24', ns.hostB, 'eth0', `${HOST_B_IP}/24`);
    await this.ip(['-n', ns.hostB, 'route', 'add', 'default', 'via', '100.72.2.1']);
    if (opts.isolateB) {
      await this.exec(ns.hostB, 'iptables', ['-w', '-A', 'OUTPUT', '-o', 'lo', '-p', 'udp', '-j', 'DROP']);
    }
    // Counters (rules without a target only count) for what A sends B through the bottleneck.
    for (const proto of ['udp', 'tcp']) {
      await this.exec(ns.gwA, 'iptables', [
        '-w',
        '-A',
        'FORWARD',
        '-o',
        'wan',
        '-s',
        HOST_A_IP,
        '-d',
        HOST_B_IP,
        '-p',
        proto,
        '-m',
        'comment',
        '--comment',
        `sct-a2b-${proto}`,
      ]);
    }
    await this.shape(this.shaping);
  }

  /** (Re)shapes host A's uplink: tbf on gwA's WAN egress. */
  async shape(s: Shaping): Promise<void> {
    this.shaping = s;
    await this.exec(this.ns.gwA, 'tc', [
      'qdisc',
      'replace',
      'dev',
      'wan',
      'root',
      'tbf',
      'rate',
      `${s.rateMbit}mbit`,
      'burst',
      `${s.burstKbit ?? 32}kbit`,
      'latency',
      `${s.latencyMs}ms`,
    ]);
  }

  async counters(): Promise<UplinkCounters> {
    const out = await this.exec(this.ns.gwA, 'iptables-save', ['-c', '-t', 'filter']);
    const c: UplinkCounters = { udpBytes: 0, tcpBytes: 0 };
    for (const line of out.split('\n')) {
      const m = /^\[(\d+):(\d+)\] .*--comment "?sct-a2b-(udp|tcp)"?/.exec(line);
      if (!m) continue;
      if (m[3] === 'udp') c.udpBytes += Number(m[2]);
      else c.tcpBytes += Number(m[2]);
    }
    return c;
  }

  async qdisc(): Promise<QdiscStats> {
    const out = await this.exec(this.ns.gwA, 'tc', ['-s', '-j', 'qdisc', 'show', 'dev', 'wan']);
    const all = JSON.parse(out) as Array<Record<string, unknown>>;
    const q = all.find((x) => x.kind === 'tbf') ?? all[0] ?? {};
    const backlogBytes = Number(q.backlog ?? 0);
    return {
      bytes: Number(q.bytes ?? 0),
      packets: Number(q.packets ?? 0),
      drops: Number(q.drops ?? 0),
      backlogBytes,
      backlogMs: (backlogBytes * 8) / (this.shaping.rateMbit * 1000),
    };
  }

  /** `cmd args` inside `ns`, its JSON stdout lines collected with their arrival time. */
  spawnJson(ns: string, cmd: string, args: string[], env: Record<string, string> = {}): TimedCommand {
    const child = this.spawnIn(ns, cmd, args, env);
    const lines: TimedLine[] = [];
    const stderr: string[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      const at = Date.now();
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const obj = JSON.parse(text) as Record<string, unknown>;
          if (obj && typeof obj === 'object') lines.push({ ...obj, _at: at });
        } catch {
          // not a JSON line
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 500) stderr.push(d.toString());
    });
    const exited = new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      child.on('exit', (code) => resolve(code));
    });
    return { child, lines, stderr, exited, last: () => lines[lines.length - 1] };
  }

  /** `swarmcast …` inside `ns`, lines stamped with their arrival time. */
  swarmcastTimed(ns: string, args: string[], env: Record<string, string> = {}): TimedCommand {
    return this.spawnJson(ns, process.execPath, [BIN, ...args], { SWARMCAST_LOG_LEVEL: 'warn', ...env });
  }

  /**
   * `swarmcast server` (origin, COM, tracker, STUN, demo channel) in the core namespace on
   * SERVER_IP:`port`; resolves once it says it is ready.
   */
  async startServer(port: number, dataDir: string): Promise<TimedCommand> {
    const server = this.swarmcastTimed(this.ns.core, [
      'server',
      '--host',
      SERVER_IP,
      '--http-port',
      String(port),
      '--no-rtmp',
      '--stun-port',
      '3478',
      '--public-url',
      `http://${SERVER_IP}:${port}`,
      '--data',
      dataDir,
    ]);
    await until(
      () => {
        if (server.child.exitCode !== null) throw new Error(`server exited:\n${server.stderr.join('')}`);
        return server.lines.some((l) => l.event === 'ready');
      },
      30_000,
      'server ready',
      () => server.stderr.join(''),
    );
    return server;
  }

  /** A bulk TCP flow from host A to host B: the sink in B (counts bytes), the source in A. */
  async startBulkTcp(port: number): Promise<{ sink: TimedCommand; source: TimedCommand }> {
    const script = (role: string, host: string) => [
      '--import',
      TSX_LOADER,
      BULK_TCP_SCRIPT,
      role,
      '--host',
      host,
      '--port',
      String(port),
    ];
    const sink = this.spawnJson(this.ns.hostB, process.execPath, script('sink', HOST_B_IP));
    await until(
      () => sink.lines.some((l) => l.event === 'ready'),
      15_000,
      'TCP sink ready',
      () => sink.stderr.join(''),
    );
    const source = this.spawnJson(this.ns.hostA, process.execPath, script('source', HOST_B_IP));
    await until(
      () => source.lines.some((l) => l.event === 'connected'),
      15_000,
      'TCP source connected',
      () => source.stderr.join(''),
    );
    return { sink, source };
  }
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  diag: () => string = () => '',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${diag()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The rate (per second) at which counter `key` grew between epoch ms `from` and `to`, from the
 * first line at or after `from` to the last line at or before `to`; null without two such lines.
 */
export function rateBetween(
  lines: readonly TimedLine[],
  key: string,
  from: number,
  to: number,
): number | null {
  const inside = lines.filter((l) => l._at >= from && l._at <= to && typeof l[key] === 'number');
  if (inside.length < 2) return null;
  const a = inside[0]!;
  const b = inside[inside.length - 1]!;
  if (b._at <= a._at) return null;
  return ((Number(b[key]) - Number(a[key])) * 1000) / (b._at - a._at);
}
