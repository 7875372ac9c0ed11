import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerConfig } from '../driver.js';
import { isSameProcess, readProcEntry } from './proc-table.js';

/* Test support for the process driver (imported by *.test.ts only). */

/** Compiles the shim when native/berth-shim.c is newer than build/berth-shim (a no-op otherwise). */
export function buildShim(): void {
  const result = spawnSync(process.execPath, ['scripts/build-native.mjs'], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('scripts/build-native.mjs failed');
}

/** A scratch directory under the OS temp dir, removed by `dispose`. */
export function scratchDir(prefix: string): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  // Retried: a shim whose container was just killed may still be writing its exit file in there.
  return { path, dispose: () => rmSync(path, { recursive: true, force: true, maxRetries: 40, retryDelay: 100 }) };
}

let seq = 0;

/** A valid config for `argv` with its own state dir under `root`; PATH is the only variable by default. */
export function processConfig(root: string, argv: readonly string[], overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  const instanceId = `inst-${process.pid}-${++seq}`;
  return {
    instanceId,
    containerName: 'main',
    argv,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    workingDir: root,
    address: '127.10.0.2',
    stateDir: join(root, instanceId),
    log: { maxBytes: 1024 * 1024, maxFiles: 2 },
    ...overrides,
  };
}

/** Resolves once `check` holds, polling every 10 ms; rejects after `ms`. For conditions with no event. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True while `pid` is the process that started at `startTicks`. */
export const alive = (pid: number, startTicks: number): Promise<boolean> => isSameProcess(pid, startTicks);

/** The start ticks of a live pid (throws when it is gone). */
export async function startTicksOf(pid: number): Promise<number> {
  const entry = await readProcEntry(pid);
  if (!entry) throw new Error(`no process ${pid}`);
  return entry.startTicks;
}
