#!/usr/bin/env node
// Runs the benchmarks in bench/ (all, or those whose file name contains an argument), one after the
// other; each prints its figures and the ratio to its peer.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

// The benchmarks start the built binary (bin/berth → dist/): build first so they measure this tree.
const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const filters = process.argv.slice(2);
const files = readdirSync('bench').filter((f) => f.endsWith('.bench.ts')).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
