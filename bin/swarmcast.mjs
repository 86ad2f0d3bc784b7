#!/usr/bin/env node
// The `swarmcast` command. Runs the built bundle (out/cli/swarmcast-command.mjs, made by
// `npm run build:cli`, which `npm run build` and the benchmarks run first); from a checkout
// without a build, or with SWARMCAST_FROM_SOURCE=1 (the tests), it runs the TypeScript
// sources through tsx instead.
import { existsSync } from 'node:fs';

const bundle = new URL('../out/cli/swarmcast-command.mjs', import.meta.url);
const fromSource = process.env.SWARMCAST_FROM_SOURCE === '1' || !existsSync(bundle);

const [name, ...args] = process.argv.slice(2);
try {
  let mod;
  if (fromSource) {
    const { register } = await import('tsx/esm/api');
    register();
    mod = await import('../main/swarmcast-command.ts');
  } else {
    mod = await import(bundle.href);
  }
  const code = await mod.run(name, args);
  if (code >= 0) process.exit(code);
} catch (err) {
  process.stderr.write(`swarmcast ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
