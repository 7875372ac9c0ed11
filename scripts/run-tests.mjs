#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test (Node 20's --test expands no globs and runs
// nothing when given a directory, so the list is built here). Extra arguments filter files by substring.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (entry.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'test'].flatMap((d) => find(d)).sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// End-to-end tests run the built binary (bin/berth → dist/): build first so they test this tree.
const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// Servers the tests start run processes only, unless a test asks for the Docker driver (the e2e
// harness's `docker` option sets BERTH_DOCKER=auto): a test of the process driver must not create
// networks, listen on a bridge gateway or route ranges because an engine happens to answer.
const env = { ...process.env, BERTH_DOCKER: process.env.BERTH_DOCKER ?? 'off' };
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
