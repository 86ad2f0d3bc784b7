/**
 * The `swarmcast` command's subcommands, one entry point for the bundle (out/cli/) and for
 * running from sources: server (origin, COM, tracker, STUN), peer (headless viewer), seed,
 * and web (browser mode).
 */

export const COMMANDS = ['server', 'peer', 'seed', 'web'] as const;

export async function run(name: string | undefined, args: string[]): Promise<number> {
  if (!name || !(COMMANDS as readonly string[]).includes(name)) {
    process.stderr.write(`usage: swarmcast <${COMMANDS.join('|')}> [options]   (--help for each)\n`);
    return name ? 2 : 0;
  }
  // Loaded on demand: a viewer never loads the server's modules (start-up CPU).
  if (name === 'server') await (await import('../server/cli')).main(args);
  else await (await import('./cli')).main(args, name);
  return -1;
}
