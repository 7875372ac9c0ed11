#!/usr/bin/env node
// Compiles berth's native helpers into build/ (docs/drivers.md, docs/proxy.md):
//   native/berth-shim.c  → build/berth-shim   the per-container supervisor of the process driver
//   native/berth-relay.c → build/berth-relay  the proxy's TCP data plane (epoll threads)
// Run by `npm run build` (and so by `prepare` on `npm ci`). Skips a binary newer than its source,
// unless --force. Fails loudly when no C compiler exists: the process driver cannot run a container
// without the shim.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cc = process.env.CC || 'cc';
const targets = [
  { name: 'berth-shim', flags: [] },
  { name: 'berth-relay', flags: ['-pthread'] },
];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

for (const { name, flags } of targets) {
  const source = join(root, 'native', `${name}.c`);
  const output = join(root, 'build', name);
  const built = mtime(output);
  if (!process.argv.includes('--force') && built !== undefined && built >= (mtime(source) ?? Infinity)) continue;
  mkdirSync(dirname(output), { recursive: true });
  const args = ['-O2', '-Wall', '-Wextra', ...flags, '-o', output, source];
  const result = spawnSync(cc, args, { stdio: 'inherit' });
  if (result.error) {
    const hint = result.error.code === 'ENOENT' ? ' (install a C compiler: apt-get install gcc, or set CC)' : '';
    console.error(`build-native: cannot run ${cc}: ${result.error.message}${hint}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`build-native: ${cc} ${args.join(' ')} failed with status ${result.status ?? result.signal}`);
    process.exit(1);
  }
}
