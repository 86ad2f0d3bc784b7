/**
 * Files shipped with the package (the demo clip, the built renderer), found from the package
 * root: the nearest folder above this module with a package.json. The same code then works
 * from the TypeScript sources, from the bundled command (out/cli/) and from the app.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packagePath(...parts: string[]): string {
  if (root === null) {
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'package.json'))) {
      const up = dirname(dir);
      if (up === dir)
        throw new Error('swarmcast: cannot find the package root (no package.json above the code)');
      dir = up;
    }
    root = dir;
  }
  return join(root, ...parts);
}
