#!/usr/bin/env node
// The `swarmcast` command. Runs the built bundle (out/cli/swarmcast-command.mjs, made by
// `npm run build:cli`, which `npm run build` and the benchmarks run first); from a checkout
// without a build, or with SWARMCAST_FROM_SOURCE=1 (the tests), it runs the TypeScript
// sources through tsx instead.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

// V8's code cache for the modules loaded below (Node 22.1+; older Node has no such call): a
// later start reads the compiled code instead of compiling the bundle again (Node 22: start-up
// CPU to the first stats line 0.69 -> 0.64 s). In the user's own cache folder, not the shared
// temporary one, where another local user could leave compiled code for us to run.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off.
try {
  module.enableCompileCache?.(
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'swarmcast', 'node'),
  );
} catch {
  // No cache (e.g. a read-only home): the command runs as without it.
}

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
