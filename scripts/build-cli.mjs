// Builds the `swarmcast` command (out/cli) with esbuild. Dependencies stay external (node_modules
// at run time) except the pure-JS ones every process loads at start, which go into the bundle:
// Node resolves, reads and compiles ~100 separate files for zod and ws otherwise, which was a
// fifth of a headless viewer's start-up CPU (bench:swarm `startup_cpu_s_per_viewer`) and ~6 MB
// of its memory; pino (the servers' and the headless viewer's logger) likewise, ~35 files. Only
// pino.destination() is used, never its worker-thread transports, whose worker files a bundle
// would not find. CommonJS inside an ESM bundle needs a `require`: the banner makes one.
//
// zod is imported as `import * as z from 'zod'` everywhere: the `{ z }` export is one object
// holding all of zod, so the bundle kept everything, ~70 error-message locales and the JSON
// Schema converters included (912 KB); through the namespace import esbuild keeps what is used
// (352 KB; start-up 0.28 -> 0.22 CPU-s to a viewer's `--help`, RSS -4 MB). The check after the
// build keeps it so.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['zod', 'ws', 'pino']);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = [
  ...Object.keys(pkg.dependencies).filter((d) => !BUNDLED.has(d)),
  // ws's optional native helpers: used when installed, skipped when not.
  'bufferutil',
  'utf-8-validate',
];

// Chunk names carry content hashes: clear the old ones rather than pile them up.
rmSync(new URL('../out/cli', import.meta.url), { recursive: true, force: true });

const result = await build({
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
  metafile: true,
  banner: {
    js: "import { createRequire as __swarmcastRequire } from 'node:module'; const require = __swarmcastRequire(import.meta.url);",
  },
});

// Files esbuild read but left out (tree-shaken) are in metafile.inputs too: count what is output.
const locales = Object.values(result.metafile.outputs)
  .flatMap((o) => Object.entries(o.inputs))
  .filter(([f, { bytesInOutput }]) => bytesInOutput > 0 && /zod\/v4\/locales\/(?!en\.js)/.test(f));
if (locales.length > 0) {
  console.error(
    `build-cli: the bundle holds all of zod (${locales.length} locale files): import it as \`import * as z from 'zod'\`, not \`import { z } from 'zod'\``,
  );
  process.exit(1);
}

// esbuild escapes every non-ASCII character in code (its default charset), but the comments it
// keeps stay as written, and one en dash in a chunk makes V8 hold that chunk's whole source as a
// two-byte string: 1.3 MB of a viewer's heap for its three largest chunks instead of 0.65 MB.
// Such a character becomes "?" (one UTF-16 unit for one, so the source maps' columns hold); one
// outside a comment would be a change of meaning, so the build stops instead.
const NON_ASCII = /[\u0080-\uffff]/;
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs'))) {
  const text = readFileSync(file, 'utf8');
  if (!NON_ASCII.test(text)) continue;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const at = line.search(NON_ASCII);
    if (at < 0) continue;
    if (!/^\s*(\*|\/\/|\/\*)|\/\/|\/\*/.test(line.slice(0, at))) {
      console.error(
        `build-cli: non-ASCII outside a comment at ${file}:${i + 1}: ${line.trim().slice(0, 80)}`,
      );
      process.exit(1);
    }
    lines[i] = line.replace(/[\u0080-\uffff]/g, '?');
  }
  writeFileSync(file, lines.join('\n'));
}
