/** Running `swarmcast` subcommands as real processes and reading their JSON stats lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/swarmcast.mjs', import.meta.url));

/**
 * Niceness of the server and the seeds in benchmarks and swarm tests. In a deployment they run
 * on machines of their own; here they share 2 cores with up to 30 viewer processes, and at the
 * default priority the server's event loop spent half its wall time waiting for a CPU
 * (run-queue wait 51 % in /proc/PID/schedstat at 7 % CPU, 30 low-latency viewers) with the loop
 * late by 100–250 ms every second: a hiccup in the CDN's delivery that a real CDN does not
 * have, and that a low-latency viewer, 0.4 s behind live, sees as a stall of many viewers at
 * once. At −10: 16 % and 15–50 ms. The viewers keep the default priority: their cost and their
 * stalls are what is measured. Without the privilege to raise a priority (not root) nice warns
 * and runs them as before.
 */
export const INFRASTRUCTURE_NICE = -10;

export interface RunningCommand {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  exited: Promise<number | null>;
  last(): Record<string, unknown> | undefined;
}

export function runSwarmcast(
  args: string[],
  env: Record<string, string> = {},
  /** Run under `nice -n NICE` (every thread; without the privilege, nice warns and runs it as is). */
  nice?: number,
): RunningCommand {
  const argv = [process.execPath, BIN, ...args];
  if (nice !== undefined) argv.unshift('nice', '-n', String(nice));
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, SWARMCAST_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collectLines(child);
}

/** Collects a child's JSON stdout lines (others are skipped) and the start of its stderr. */
export function collectLines(child: ChildProcess): RunningCommand {
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a stats line
      }
      i = buf.indexOf('\n');
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

/** `swarmcast tracker` on loopback, any free port, registered in `redisUrl` as `shardId`. */
export function trackerShardArgs(redisUrl: string, ticketKey: string, shardId: string): string[] {
  return [
    'tracker',
    '--host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--redis',
    redisUrl,
    '--ticket-key',
    ticketKey,
    '--shard-id',
    shardId,
  ];
}
