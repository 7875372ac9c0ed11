import type { ContainerSpec, Instance } from '../model/index.js';
import type { ContainerConfig, ContainerHandle, Driver, SandboxConfig } from '../drivers/index.js';
import { SANDBOX_CONTAINER } from '../drivers/index.js';
import { containerArgv, expandVars } from './container-env.js';
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
  /** The instance's sandbox, when its containers share one (an instance with images): made first. */
  readonly sandbox?: SandboxConfig;
  /** What an image container needs beyond the process fields (entrypoint, mounts, resources …). */
  imageFieldsOf?(c: ContainerSpec, env: Readonly<Record<string, string>>): Partial<ContainerConfig>;
}

/**
 * Starts the instance's containers in order, writing each one's handle file before the next starts
 * (and before any status says running). When one cannot start, those already started are SIGKILLed.
 * @returns the started containers, or the container that failed and why (the driver's message).
 */
export async function startContainers(inst: Instance, options: StartOptions): Promise<{ readonly started: RunningContainer[] } | { readonly failed: string; readonly message: string }> {
  const started: RunningContainer[] = [];
  let sandbox: ContainerHandle | undefined;
  if (options.sandbox) {
    try {
      if (!options.driver.runSandbox) throw new Error('the driver makes no sandboxes');
      sandbox = await options.driver.runSandbox(options.sandbox);
      const rc: RunningContainer = { name: SANDBOX_CONTAINER, handle: sandbox, startedAt: new Date(options.now()).toISOString() };
      await writeHandleFile(options.dataDir, inst.id, rc);
      started.push(rc);
      options.onStarted([...started]);
    } catch (error) {
      if (sandbox) await options.driver.destroy(sandbox).catch(() => undefined);
      return { failed: 'sandbox', message: error instanceof Error ? error.message : String(error) };
    }
  }
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
        argv: c.image ? [] : containerArgv(c, env),
        env,
        ...(sandbox ? { sandbox } : {}),
        ...(c.image ? { ...(c.command ? { entrypoint: c.command.map((a) => expandVars(a, env)) } : {}), ...(c.args.length > 0 || c.command ? { cmd: c.args.map((a) => expandVars(a, env)) } : {}) } : {}),
        ...(c.image ? { stopSignal: c.stopSignal } : {}),
        ...options.imageFieldsOf?.(c, env),
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
      // Stop what started, and remove it: the instance never ran, nothing of it is worth keeping (a sandbox holds its address).
      await Promise.all(started.map((s) => options.driver.stop(s.handle, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => undefined)));
      if (sandbox) await options.driver.destroy(sandbox).catch(() => undefined);
      return { failed: name, message: error instanceof Error ? error.message : String(error) };
    }
  }
  return { started };
}
