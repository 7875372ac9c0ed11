#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test (Node 20's --test expands no globs and runs
// nothing when given a directory, so the list is built here). Extra arguments filter files by substring.
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

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
if (files.length === 0 && !filters.some((s) => s.startsWith('web'))) {
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
// A test file whose process never ends (a test that failed and left a server or a follow running)
// would hold the run until CI's own limit, with nothing said: past RUN_LIMIT_MS the run is stopped,
// saying so. node:test and what its test files started run in a process group of their own, so that
// the servers and agents an end-to-end test started go with it; Ctrl-C and SIGTERM are passed on.
const RUN_LIMIT_MS = Number(process.env.BERTH_TEST_RUN_LIMIT_MS ?? 75 * 60_000);
const result = files.length === 0 ? { status: 0 } : await runNodeTests(['--import', 'tsx', '--test', '--test-concurrency=2', ...files]);
process.exit(Math.max(result.status ?? 1, runVitest()));

/**
 * The console's component tests (the *.test.ts(x) files under web/src, vitest in happy-dom), after node:test, when no
 * filter is given or one matches `web`. vitest's own summary is not in node:test's words: its JSON
 * report is read back and printed as `vitest: N passed, N failed`.
 */
function runVitest() {
  if (filters.length > 0 && !filters.some((s) => 'web/'.includes(s) || s.startsWith('web'))) return 0;
  const report = join(mkdtempSync(join(tmpdir(), 'berth-vitest-')), 'vitest.json');
  const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'web/vite.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`], { stdio: 'inherit' });
  let summary;
  try {
    summary = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    console.log('vitest: no report (it failed to start)');
    return 1;
  }
  console.log(`vitest: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed`);
  return run.status === 0 && summary.numFailedTests === 0 && summary.numPassedTests > 0 ? 0 : 1;
}

/** node:test in a process group of its own, stopped (the whole group) past RUN_LIMIT_MS; its exit status. */
async function runNodeTests(args) {
  const child = spawn(process.execPath, args, { stdio: 'inherit', env, detached: true });
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => killGroup(signal));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGKILL');
  }, RUN_LIMIT_MS);
  const status = await new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  clearTimeout(timer);
  if (timedOut) {
    console.log(`node:test did not end within ${Math.round(RUN_LIMIT_MS / 1000)} s and was stopped with what its test files started: a test file did not end (the last file reported above is waiting on it)`);
    return { status: 1 };
  }
  // Whatever a test file left running goes with the run.
  killGroup('SIGKILL');
  return { status };
}
