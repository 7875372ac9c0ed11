import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where `npm run build` puts berth's compiled helpers (`build/<name>` under the package root: the
 * process driver's `berth-shim`, the proxy's `berth-relay`), found by walking up from this module to
 * the nearest package.json — the same from `src/lib/` (tsx) and from `dist/lib/` (compiled).
 * The path is returned whether or not the file exists (callers report a missing one with its fix).
 */
export function nativeBinaryPath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'build', name);
    const up = dirname(dir);
    if (up === dir) return fileURLToPath(new URL(`../../build/${name}`, import.meta.url));
    dir = up;
  }
}
