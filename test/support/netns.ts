/**
 * A NAT lab in Linux network namespaces, for tests of ICE through real NATs: the topology of
 * ../shared/testing/nat-topology.sh, in TypeScript, under unique namespace names.
 *
 *   pub    100.64.0.1 on lo: swarmcast server (HTTP, tracker, STUN) and coturn
 *          default route into `void`, which drops everything (coturn needs a route)
 *   natA   WAN 100.64.1.2 (link 100.64.1.0/24 to pub), LAN 100.100.1.1
 *   natB   WAN 100.64.2.2 (link 100.64.2.0/24 to pub), LAN 100.100.2.1
 *   peerA  100.100.1.2 behind natA; peerB 100.100.2.2 behind natB
 *
 * A router is a `cone` NAT (MASQUERADE keeps the source port: endpoint-independent mapping)
 * or a `symmetric` one (MASQUERADE --random-fully: a new port per destination). Both drop
 * unsolicited inbound traffic, forwarded or local. Nothing is connected to the root
 * namespace, so no packet can leave the namespaces created here. Needs root, iproute2 and
 * iptables; processes run inside with `ip netns exec`.
 *
 * `NetnsLab` is the machinery under it (namespaces under unique names, commands and
 * `swarmcast` processes inside them, teardown), for other topologies (test/support/bottleneck.ts).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, collectLines, type RunningCommand } from './processes';

const execFileP = promisify(execFile);

export type NatMode = 'cone' | 'symmetric';

export const PUBLIC_IP = '100.64.0.1';
export const NAT_A_WAN = '100.64.1.2';
export const NAT_B_WAN = '100.64.2.2';
export const PEER_A_IP = '100.100.1.2';
export const PEER_B_IP = '100.100.2.2';

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * Why the NAT lab cannot run here (not root, a tool missing, namespaces not permitted), or
 * null when it can. Synchronous, for `describe.skipIf`.
 */
export function natLabUnavailable(tools: string[] = ['ip', 'iptables']): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install -y iproute2 iptables coturn)`;
  const probe = `sct_probe_${randomBytes(4).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore', timeout: 5000 });
  } catch {
    return 'cannot create network namespaces here (ip netns add failed)';
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore', timeout: 5000 });
    } catch {
      // never created
    }
  }
  return null;
}

/** Byte counters kept by iptables in `pub`. */
export interface LabCounters {
  /** UDP between the two routers' WAN addresses: a direct (server-reflexive) path. */
  directBytes: number;
  /** UDP to and from the TURN port on 100.64.0.1: traffic relayed through coturn. */
  turnBytes: number;
}

export interface NatLabOptions {
  natA: NatMode;
  natB: NatMode;
  /** TURN port counted in `turnBytes`. */
  turnPort?: number;
}

/**
 * The namespace machinery shared by the labs built here: namespaces under unique names,
 * commands run inside them, children stopped and namespaces removed on `destroy` (and on
 * process exit, should a test forget).
 */
export class NetnsLab {
  protected readonly created: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly exitHook = () => this.destroySync();
  private destroyed = false;

  protected constructor(readonly prefix: string) {
    process.once('exit', this.exitHook);
  }

  /** Creates namespace `name` (removed again by `destroy`) with its loopback up. */
  protected async addNamespace(name: string): Promise<void> {
    await this.ip(['netns', 'add', name]);
    this.created.push(name);
    await this.ip(['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** Runs a command inside namespace `ns` and returns its stdout. */
  async exec(ns: string, cmd: string, args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileP('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 15_000 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ip netns exec ${ns} ${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
    }
  }

  /** A veth pair from `a` (interface `ifA`, address `addrA`, CIDR) to `b`; both ends up. */
  protected async veth(
    a: string,
    ifA: string,
    addrA: string,
    b: string,
    ifB: string,
    addrB: string,
  ): Promise<void> {
    await this.ip(['link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b]);
    await this.ip(['-n', a, 'addr', 'add', addrA, 'dev', ifA]);
    await this.ip(['-n', a, 'link', 'set', ifA, 'up']);
    await this.ip(['-n', b, 'addr', 'add', addrB, 'dev', ifB]);
    await this.ip(['-n', b, 'link', 'set', ifB, 'up']);
  }

  protected ip(args: string[]): Promise<string> {
    return execFileP('ip', args, { timeout: 15_000 }).then(
      (r) => r.stdout,
      (err: { stderr?: string; message: string }) => {
        throw new Error(`ip ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
      },
    );
  }

  /** Starts `cmd args` inside `ns`; the child is stopped by `destroy` if still running. */
  spawnIn(ns: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** `swarmcast …` inside `ns`, its JSON stdout lines collected (like runSwarmcast). */
  swarmcast(ns: string, args: string[], env: Record<string, string> = {}): RunningCommand {
    const child = this.spawnIn(ns, process.execPath, [BIN, ...args], { SWARMCAST_LOG_LEVEL: 'warn', ...env });
    return collectLines(child);
  }

  /** Whether UDP `port` is bound in `ns`. */
  async udpListening(ns: string, port: number): Promise<boolean> {
    const out = await this.exec(ns, 'ss', ['-Hlun', `sport = :${port}`]);
    return out.trim().length > 0;
  }

  /** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** Stops every child started here, kills anything left in the namespaces, removes them. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.children].map((c) => this.stop(c)));
    this.destroySync();
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.exitHook);
    for (const c of this.children) c.kill('SIGKILL');
    for (const n of this.created) {
      // Only processes started in these namespaces (by this lab) can be in them.
      try {
        const pids = execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8', timeout: 5000 });
        for (const pid of pids.split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
      } catch {
        // namespace already gone
      }
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // already gone
      }
    }
    this.created.length = 0;
  }
}

export class NatLab extends NetnsLab {
  readonly ns: { pub: string; natA: string; natB: string; peerA: string; peerB: string; void: string };

  private constructor(prefix: string) {
    super(prefix);
    this.ns = {
      pub: `${prefix}_pub`,
      natA: `${prefix}_natA`,
      natB: `${prefix}_natB`,
      peerA: `${prefix}_peerA`,
      peerB: `${prefix}_peerB`,
      void: `${prefix}_void`,
    };
  }

  /** Builds the topology; on failure whatever was built is removed again. */
  static async create(opts: NatLabOptions): Promise<NatLab> {
    const lab = new NatLab(`sct_${randomBytes(3).toString('hex')}`);
    try {
      await lab.build(opts);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(opts: NatLabOptions): Promise<void> {
    const { ns } = this;
    for (const n of Object.values(ns)) await this.addNamespace(n);
    // The internet core: 100.64.0.1 on lo hosts the server, STUN and TURN.
    await this.ip(['-n', ns.pub, 'addr', 'add', `${PUBLIC_IP}/32`, 'dev', 'lo']);
    await this.exec(ns.pub, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // PITFALL: without a default route, coturn's relay sendto(<a peer's private host candidate>)
    // fails with ENETUNREACH and coturn tears down the whole allocation. A default route into a
    // namespace that drops everything behaves like the Internet (no dummy module on these hosts).
    await this.ip([
      'link',
      'add',
      'void0',
      'netns',
      ns.pub,
      'type',
      'veth',
      'peer',
      'name',
      'vgw',
      'netns',
      ns.void,
    ]);
    await this.ip(['-n', ns.pub, 'addr', 'add', '100.64.255.1/30', 'dev', 'void0']);
    await this.ip(['-n', ns.pub, 'link', 'set', 'void0', 'up']);
    await this.ip(['-n', ns.void, 'addr', 'add', '100.64.255.2/30', 'dev', 'vgw']);
    await this.ip(['-n', ns.void, 'link', 'set', 'vgw', 'up']);
    await this.exec(ns.void, 'iptables', ['-w', '-t', 'raw', '-A', 'PREROUTING', '-i', 'vgw', '-j', 'DROP']);
    await this.ip(['-n', ns.pub, 'route', 'add', 'default', 'via', '100.64.255.2']);
    for (const [side, i] of [
      ['A', 1],
      ['B', 2],
    ] as const) {
      const nat = side === 'A' ? ns.natA : ns.natB;
      const peer = side === 'A' ? ns.peerA : ns.peerB;
      // pub <-> router WAN
      await this.ip([
        'link',
        'add',
        `pub${side}`,
        'netns',
        ns.pub,
        'type',
        'veth',
        'peer',
        'name',
        'wan',
        'netns',
        nat,
      ]);
      await this.ip(['-n', ns.pub, 'addr', 'add', `100.64.${i}.1/24`, 'dev', `pub${side}`]);
      await this.ip(['-n', ns.pub, 'link', 'set', `pub${side}`, 'up']);
      await this.ip(['-n', nat, 'addr', 'add', `100.64.${i}.2/24`, 'dev', 'wan']);
      await this.ip(['-n', nat, 'link', 'set', 'wan', 'up']);
      await this.ip(['-n', nat, 'route', 'add', 'default', 'via', `100.64.${i}.1`]);
      await this.exec(nat, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // router LAN <-> peer
      await this.ip([
        'link',
        'add',
        'lan',
        'netns',
        nat,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        peer,
      ]);
      await this.ip(['-n', nat, 'addr', 'add', `100.100.${i}.1/24`, 'dev', 'lan']);
      await this.ip(['-n', nat, 'link', 'set', 'lan', 'up']);
      await this.ip(['-n', peer, 'addr', 'add', `100.100.${i}.2/24`, 'dev', 'eth0']);
      await this.ip(['-n', peer, 'link', 'set', 'eth0', 'up']);
      await this.ip(['-n', peer, 'route', 'add', 'default', 'via', `100.100.${i}.1`]);
    }
    await this.setNat('A', opts.natA);
    await this.setNat('B', opts.natB);
    // Counters (rules without a target only count).
    const turnPort = String(opts.turnPort ?? 3479);
    const pubRules: string[][] = [
      ['FORWARD', '-s', NAT_A_WAN, '-d', NAT_B_WAN, '-p', 'udp', '-m', 'comment', '--comment', 'sct-direct'],
      ['FORWARD', '-s', NAT_B_WAN, '-d', NAT_A_WAN, '-p', 'udp', '-m', 'comment', '--comment', 'sct-direct'],
      ['INPUT', '-d', PUBLIC_IP, '-p', 'udp', '--dport', turnPort, '-m', 'comment', '--comment', 'sct-turn'],
      ['OUTPUT', '-s', PUBLIC_IP, '-p', 'udp', '--sport', turnPort, '-m', 'comment', '--comment', 'sct-turn'],
    ];
    for (const r of pubRules) await this.exec(ns.pub, 'iptables', ['-w', '-A', ...r]);
  }

  /** Makes router A or B a cone or symmetric NAT and forgets its existing mappings. */
  async setNat(side: 'A' | 'B', mode: NatMode): Promise<void> {
    const nat = side === 'A' ? this.ns.natA : this.ns.natB;
    const ipt = (args: string[]) => this.exec(nat, 'iptables', ['-w', ...args]);
    await ipt(['-t', 'nat', '-F', 'POSTROUTING']);
    await ipt([
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-o',
      'wan',
      '-j',
      'MASQUERADE',
      ...(mode === 'symmetric' ? ['--random-fully'] : []),
    ]);
    // The router lets no unsolicited WAN traffic into the LAN (port-restricted filtering).
    await ipt(['-P', 'FORWARD', 'DROP']);
    await ipt(['-F', 'FORWARD']);
    await ipt(['-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT']);
    await ipt([
      '-A',
      'FORWARD',
      '-i',
      'wan',
      '-o',
      'lan',
      '-m',
      'conntrack',
      '--ctstate',
      'ESTABLISHED,RELATED',
      '-j',
      'ACCEPT',
    ]);
    // PITFALL: an unsolicited inbound UDP packet that is delivered locally (INPUT, answered with
    // ICMP port-unreachable) gets a confirmed conntrack entry, which then collides with the
    // peer's outbound mapping and makes MASQUERADE pick a new port: a cone NAT would behave as a
    // symmetric one. Dropping it keeps the entry unconfirmed.
    await ipt(['-F', 'INPUT']);
    await ipt(['-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'NEW,INVALID', '-j', 'DROP']);
    if (onPath('conntrack')) {
      await this.exec(nat, 'conntrack', ['-F']).catch(() => '');
    }
  }

  /** Reads the counters in `pub`. */
  async counters(): Promise<LabCounters> {
    const out = await this.exec(this.ns.pub, 'iptables-save', ['-c', '-t', 'filter']);
    const c: LabCounters = { directBytes: 0, turnBytes: 0 };
    for (const line of out.split('\n')) {
      const m = /^\[(\d+):(\d+)\] .*--comment "?(sct-[a-z]+)"?/.exec(line);
      if (!m) continue;
      if (m[3] === 'sct-direct') c.directBytes += Number(m[2]);
      if (m[3] === 'sct-turn') c.turnBytes += Number(m[2]);
    }
    return c;
  }

  async resetCounters(): Promise<void> {
    await this.exec(this.ns.pub, 'iptables', ['-w', '-Z']);
  }
}
