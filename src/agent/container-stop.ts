import { formatDuration, parseDuration } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import type { ExitResult } from '../drivers/index.js';
import { SANDBOX_CONTAINER } from '../drivers/index.js';
import type { RunningContainer } from './container-start.js';
import type { RunnerContext } from './runner-context.js';

export interface StopOptions extends Pick<RunnerContext, 'driver' | 'logger'> {
  /** The container that ended on its own: left alone. */
  readonly exited?: string;
}

/**
 * Stops the `running` containers of `instance` but `options.exited`, each with its spec's stop signal
 * and grace period (stopOne); the sandbox goes last: it holds the network its containers still use
 * while they stop. Never throws: a stop that fails is logged and gives no result.
 * @returns the first exit result of the stopped containers (the sandbox's does not count), if any
 */
export async function stopContainers(instance: Instance, running: readonly RunningContainer[], options: StopOptions): Promise<ExitResult | undefined> {
  const { exited } = options;
  const results = await Promise.all(running.filter((c) => c.name !== exited && c.name !== SANDBOX_CONTAINER).map((c) => stopOne(instance, c, options)));
  const sandbox = running.find((c) => c.name === SANDBOX_CONTAINER && c.name !== exited);
  if (sandbox) await stopOne(instance, sandbox, options);
  return results.find((r) => r !== undefined);
}

/**
 * Stops one container: its spec's `stopSignal` (default SIGTERM), then the kill after its
 * `stopGracePeriod` (default 10 s); the sandbox's pause program ends at once on SIGTERM, so it gets 2 s.
 * @returns its exit result, or undefined when the driver failed to stop it (logged)
 */
async function stopOne(instance: Instance, c: RunningContainer, ctx: Pick<RunnerContext, 'driver' | 'logger'>): Promise<ExitResult | undefined> {
  const spec = instance.spec.containers.find((s) => (s.name ?? instance.service) === c.name);
  const signal = spec?.stopSignal ?? 'SIGTERM';
  const timeoutMs = c.name === SANDBOX_CONTAINER ? 2000 : parseDuration(spec?.stopGracePeriod ?? '10s');
  try {
    return await ctx.driver.stop(c.handle, { signal, timeoutMs });
  } catch (error) {
    ctx.logger.warn({ instance: instance.id, container: c.name, err: error, grace: formatDuration(timeoutMs) }, 'stopping a container failed');
    return undefined;
  }
}
