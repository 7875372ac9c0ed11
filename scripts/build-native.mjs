#!/usr/bin/env node
// Compiles berth's native helpers into build/ (docs/drivers.md, docs/proxy.md):
//   native/berth-shim.c → build/berth-shim   the per-container supervisor of the process driver
//   native/relay/*.c    → build/berth-relay  the proxy's TCP data plane (epoll threads)
//   native/berth-pause.c → build/berth-pause the docker driver's sandbox process, linked statically: it is
//                                            the one file of the berth-pause image (docs/images.md)
// Run by `npm run build` (and so by `prepare` on `npm ci`). Skips a binary newer than all its sources
// (and headers), unless --force. Fails loudly when no C compiler exists: the process driver cannot run a container
// without the shim.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cc = process.env.CC || 'cc';
const relayDir = join(root, 'native', 'relay');
const relayFiles = readdirSync(relayDir).filter((f) => f.endsWith('.c') || f.endsWith('.h')).sort().map((f) => join(relayDir, f));
const targets = [
  { name: 'berth-shim', inputs: [join(root, 'native', 'berth-shim.c')], flags: [] },
  { name: 'berth-relay', inputs: relayFiles, flags: ['-pthread'] },
  // Static: the pause image holds this file alone, with no loader or libraries (glibc's libc.a is in libc6-dev).
  {
    name: 'berth-pause',
    inputs: [join(root, 'native', 'berth-pause.c')],
    flags: ['-static', '-s'],
    failHint: ' (static linking needs libc.a: apt-get install libc6-dev)',
  },
];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

for (const { name, inputs, flags, failHint = '' } of targets) {
  const output = join(root, 'build', name);
  const built = mtime(output);
  const newest = Math.max(...inputs.map((f) => mtime(f) ?? Infinity));
  if (!process.argv.includes('--force') && built !== undefined && built >= newest) continue;
  mkdirSync(dirname(output), { recursive: true });
  const args = ['-O2', '-Wall', '-Wextra', ...flags, '-o', output, ...inputs.filter((f) => f.endsWith('.c'))];
  const result = spawnSync(cc, args, { stdio: 'inherit' });
  if (result.error) {
    const hint = result.error.code === 'ENOENT' ? ' (install a C compiler: apt-get install gcc, or set CC)' : '';
    console.error(`build-native: cannot run ${cc}: ${result.error.message}${hint}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`build-native: ${cc} ${args.join(' ')} failed with status ${result.status ?? result.signal}${failHint}`);
    process.exit(1);
  }
}
