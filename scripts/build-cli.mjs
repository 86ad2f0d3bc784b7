// Builds the `swarmcast` command (out/cli) with esbuild. Dependencies stay external (node_modules
// at run time) except the pure-JS ones every process loads at start, which go into the bundle:
// Node resolves, reads and compiles ~100 separate files for zod and ws otherwise, which was a
// fifth of a headless viewer's start-up CPU (bench:swarm `startup_cpu_s_per_viewer`) and ~6 MB
// of its memory. CommonJS inside an ESM bundle needs a `require`: the banner makes one.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['zod', 'ws']);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = [
  ...Object.keys(pkg.dependencies).filter((d) => !BUNDLED.has(d)),
  // ws's optional native helpers: used when installed, skipped when not.
  'bufferutil',
  'utf-8-validate',
];

// Chunk names carry content hashes: clear the old ones rather than pile them up.
rmSync(new URL('../out/cli', import.meta.url), { recursive: true, force: true });

await build({
  entryPoints: ['main/swarmcast-command.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  splitting: true,
  sourcemap: true,
  logLevel: 'warning',
  outdir: 'out/cli',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  banner: {
    js: "import { createRequire as __swarmcastRequire } from 'node:module'; const require = __swarmcastRequire(import.meta.url);",
  },
});
