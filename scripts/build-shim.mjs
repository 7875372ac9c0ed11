#!/usr/bin/env node
// Compiles native/berth-shim.c into build/berth-shim, the per-container supervisor of the process
// driver (docs/drivers.md). Run by `npm run build` (and so by `prepare` on `npm ci`). Skips the compile
// when the binary is newer than the source, unless --force. Fails loudly when no C compiler exists:
// the process driver cannot run a container without the shim.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'berth-shim.c');
const output = join(root, 'build', 'berth-shim');
const cc = process.env.CC || 'cc';

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

const built = mtime(output);
if (!process.argv.includes('--force') && built !== undefined && built >= (mtime(source) ?? Infinity)) {
  process.exit(0);
}

mkdirSync(dirname(output), { recursive: true });
const args = ['-O2', '-Wall', '-Wextra', '-o', output, source];
const result = spawnSync(cc, args, { stdio: 'inherit' });
if (result.error) {
  const hint = result.error.code === 'ENOENT' ? ' (install a C compiler: apt-get install gcc, or set CC)' : '';
  console.error(`build-shim: cannot run ${cc}: ${result.error.message}${hint}`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`build-shim: ${cc} ${args.join(' ')} failed with status ${result.status ?? result.signal}`);
  process.exit(1);
}
