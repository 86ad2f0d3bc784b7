/**
 * The `swarmcast` command's subcommands, one entry point for the bundle (out/cli/) and for
 * running from sources: server (origin, COM, tracker, STUN, log server), logs (a log server on
 * its own), tracker (a tracker shard registered in Redis), peer (headless viewer), seed, and
 * web (browser mode).
 */

export const COMMANDS = ['server', 'logs', 'tracker', 'peer', 'seed', 'web'] as const;

export async function run(name: string | undefined, args: string[]): Promise<number> {
  if (name === '--version' || name === '-v') {
    process.stdout.write(`swarmcast ${await packageVersion()}\n`);
    return 0;
  }
  if (!name || !(COMMANDS as readonly string[]).includes(name)) {
    process.stderr.write(
      `usage: swarmcast <${COMMANDS.join('|')}> [options]   (--help for each)\n       swarmcast --version\n`,
    );
    return name ? 2 : 0;
  }
  // Loaded on demand: a viewer never loads the server's modules (start-up CPU).
  if (name === 'server') await (await import('../server/cli')).main(args);
  else if (name === 'logs') await (await import('../server/logs/cli')).main(args);
  else if (name === 'tracker') await (await import('../server/tracker/shard-cli')).main(args);
  else await (await import('./cli')).main(args, name);
  return -1;
}

/** The version in package.json, read at run time: the bundle and the sources find the same file. */
async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const { packagePath } = await import('../server/package-path');
  const pkg = JSON.parse(await readFile(packagePath('package.json'), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}
