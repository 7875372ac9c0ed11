import type { ContainerSpec, Instance } from '../model/index.js';
import type { ContainerHandle, Driver } from '../drivers/index.js';
import { containerArgv } from './container-env.js';
import { writeHandleFile } from './instance-files.js';

/** A container this node started (or re-adopted); persisted as its handle file. */
export interface RunningContainer {
  readonly name: string;
  readonly handle: ContainerHandle;
  readonly pid?: number;
  readonly startedAt: string;
}

export interface StartOptions {
  readonly driver: Driver;
  /** Node data directory (handle files live under it). */
  readonly dataDir: string;
  /** The instance's state directory, shared by its containers (the driver names its files after the container). */
  readonly stateDir: string;
  readonly log: { readonly maxBytes: number; readonly maxFiles: number };
  readonly now: () => number;
  envOf(c: ContainerSpec): Record<string, string>;
  workingDirOf(c: ContainerSpec): string;
  /** The user the container runs as: its spec's, else the node's instance user (undefined: the driver's own). */
  userOf(c: ContainerSpec): string | undefined;
  /** Called after each container started and its handle file was written. */
  onStarted(started: readonly RunningContainer[]): void;
}

/**
 * Starts the instance's containers in order, writing each one's handle file before the next starts
 * (and before any status says running). When one cannot start, those already started are SIGKILLed.
 * @returns the started containers, or the container that failed and why (the driver's message).
 */
export async function startContainers(inst: Instance, options: StartOptions): Promise<{ readonly started: RunningContainer[] } | { readonly failed: string; readonly message: string }> {
  const started: RunningContainer[] = [];
  for (const c of inst.spec.containers) {
    const name = c.name ?? inst.service;
    const user = options.userOf(c);
    try {
      // Inside the try: a secret the env refers to may be missing (the start fails with its name).
      const env = options.envOf(c);
      const handle = await options.driver.start({
        instanceId: inst.id,
        containerName: name,
        ...(c.image ? { image: c.image } : {}),
        argv: containerArgv(c, env),
        env,
        workingDir: options.workingDirOf(c),
        ...(user ? { user } : {}),
        address: inst.spec.address,
        stateDir: options.stateDir,
        log: options.log,
      });
      const rc: RunningContainer = { name, handle, startedAt: new Date(options.now()).toISOString(), ...(typeof handle.pid === 'number' ? { pid: handle.pid } : {}) };
      await writeHandleFile(options.dataDir, inst.id, rc);
      started.push(rc);
      options.onStarted([...started]);
    } catch (error) {
      await Promise.all(started.map((s) => options.driver.stop(s.handle, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => undefined)));
      return { failed: name, message: error instanceof Error ? error.message : String(error) };
    }
  }
  return { started };
}
