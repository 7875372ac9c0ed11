import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where `npm run build` puts the shim: `build/berth-shim` under the package root, found by walking up
 * from this module to the nearest package.json — the same from `src/drivers/process/` (tsx) and from
 * `dist/drivers/process/` (compiled).
 */
export function defaultShimPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'build', 'berth-shim');
    const up = dirname(dir);
    if (up === dir) return fileURLToPath(new URL('../../../build/berth-shim', import.meta.url));
    dir = up;
  }
}
