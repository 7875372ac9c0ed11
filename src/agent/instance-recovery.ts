import type { Logger } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import type { ContainerHandle, Driver, ExitResult, ListedContainer } from '../drivers/index.js';
import { SANDBOX_CONTAINER } from '../drivers/index.js';
import { usesSandbox } from './instance-sandbox.js';
import type { RunningContainer } from './container-start.js';
import { readHandleFile, writeHandleFile } from './instance-files.js';

export interface RecoveryContext {
  readonly driver: Driver;
  /** Node data directory (handle files live under it). */
  readonly dataDir: string;
  readonly logger: Logger;
  readonly now: () => number;
}

/** What an earlier berth left of one instance: the containers that run, and the first exit, if any. */
export interface RecoveredContainers {
  readonly found: RunningContainer[];
  readonly exit?: { readonly container: string; readonly result: ExitResult };
}

/**
 * Finds each container of `instance` that an earlier berth started. The candidates of a container are
 * its handle file (written after the start) and what the driver recorded of it (`listed`: written
 * before the start, so it holds a container whose handle file berth never wrote). Each candidate is
 * asked of the driver: the first that runs is kept (the handle file's first), any other copy that runs
 * is destroyed — an instance id never runs twice —, and when none runs, the first exit is the
 * container's. The handle file is (re)written to name what was kept, or the exit found, so that
 * `destroy` and the logs find it later.
 */
export async function recoverContainers(instance: Instance, listed: readonly ListedContainer[], ctx: RecoveryContext): Promise<RecoveredContainers> {
  const found: RunningContainer[] = [];
  let exit: RecoveredContainers['exit'];
  // An instance with images also has its sandbox (adopted like a container, checked first).
  const names = [...(usesSandbox(instance, ctx.driver) ? [SANDBOX_CONTAINER] : []), ...instance.spec.containers.map((c) => c.name ?? instance.service)];
  for (const name of names) {
    const saved = readHandleFile<RunningContainer>(ctx.dataDir, instance.id, name);
    const candidates = distinctHandles([saved?.handle, ...listed.filter((l) => l.containerName === name).map((l) => l.handle)]);
    let kept: RunningContainer | undefined;
    let ended: { handle: ContainerHandle; exit: ExitResult } | undefined;
    for (const handle of candidates) {
      const r = await ctx.driver.recover(handle);
      if (r.state === 'exited') {
        ended ??= { handle, exit: r.exit };
      } else if (!kept) {
        kept = saved && sameHandle(saved.handle, handle) ? saved : adopted(instance, name, handle, ctx.now);
      } else {
        ctx.logger.warn({ instance: instance.id, container: name, handle }, 'a second copy of a container runs; killing it');
        await ctx.driver.destroy(handle).catch((error: unknown) => ctx.logger.warn({ instance: instance.id, err: error }, 'killing a second copy failed'));
      }
    }
    // An ended copy beside a running one is an earlier duplicate's remains: nothing will read them.
    if (kept && ended) await ctx.driver.destroy(ended.handle).catch(() => undefined);
    const held = kept ?? (ended && adopted(instance, name, ended.handle, ctx.now));
    if (held && (!saved || !sameHandle(saved.handle, held.handle))) await writeHandleFile(ctx.dataDir, instance.id, held);
    if (kept) found.push(kept);
    else if (ended && !exit) exit = { container: name, result: ended.exit };
  }
  return { found, ...(exit ? { exit } : {}) };
}

/**
 * berth died half-way through starting `instance`: some of its containers (and sandbox) were `found`
 * running, not all. The first one missing counts as exited with code 255, a failed start (the runner
 * stops what did start); undefined when none is missing.
 */
export function unfinishedStart(instance: Instance, found: readonly RunningContainer[], driver: Driver): { readonly container: string; readonly result: ExitResult } | undefined {
  const specs = instance.spec.containers;
  if (found.length >= specs.length + (usesSandbox(instance, driver) ? 1 : 0)) return undefined;
  const missing = [...(usesSandbox(instance, driver) ? [SANDBOX_CONTAINER] : []), ...specs.map((c) => c.name ?? instance.service)].find((n) => !found.some((f) => f.name === n));
  return { container: missing ?? '', result: { exitCode: 255, message: 'berth restarted while the instance was starting' } };
}

/** A container found by the driver only: its record as startContainers would have written it. */
function adopted(instance: Instance, name: string, handle: ContainerHandle, now: () => number): RunningContainer {
  const startedAt = instance.status.startedAt ?? new Date(now()).toISOString();
  return { name, handle, startedAt, ...(typeof handle.pid === 'number' ? { pid: handle.pid } : {}) };
}

/** Handles equal as JSON values (key order aside) name the same container. */
function sameHandle(a: ContainerHandle, b: ContainerHandle): boolean {
  return canonical(a) === canonical(b);
}

function canonical(handle: ContainerHandle): string {
  return JSON.stringify(Object.keys(handle).sort().map((k) => [k, handle[k]]));
}

function distinctHandles(handles: readonly (ContainerHandle | undefined)[]): ContainerHandle[] {
  const out: ContainerHandle[] = [];
  for (const h of handles) if (h && !out.some((o) => sameHandle(o, h))) out.push(h);
  return out;
}
