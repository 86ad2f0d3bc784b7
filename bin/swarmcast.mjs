#!/usr/bin/env node
// The `swarmcast` command. Runs the TypeScript sources through tsx, so a checkout needs no build step.
import { register } from 'tsx/esm/api';

register();

const commands = {
  server: '../server/cli.ts',
  peer: '../main/cli.ts',
  web: '../main/cli.ts',
  seed: '../main/cli.ts',
};

const [name, ...args] = process.argv.slice(2);
const entry = name ? commands[name] : undefined;
if (!entry) {
  process.stderr.write(
    `usage: swarmcast <${Object.keys(commands).join('|')}> [options]   (--help for each)\n`,
  );
  process.exit(name ? 2 : 0);
}
try {
  const mod = await import(entry);
  await mod.main(args, name);
} catch (err) {
  process.stderr.write(`swarmcast ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
