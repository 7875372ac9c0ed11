import type { ContainerHandle } from '../drivers/index.js';
import { SANDBOX_CONTAINER } from '../drivers/index.js';
import type { Instance } from '../model/index.js';
import type { RunningContainer } from './container-start.js';
import { readHandleFile } from './instance-files.js';
import type { RunnerContext } from './runner-context.js';

/**
 * Removes the containers of an ended instance, named by its handle files
 * (`<data>/instances/<id>/<container>.handle.json`). Every handle is read before the first removal (the
 * agent deletes the files once this returns); the sandbox goes last, as its containers name its
 * network namespace. Never throws: a container that cannot be removed is logged (removeOne).
 */
export async function removeInstanceContainers(ctx: Pick<RunnerContext, 'driver' | 'dataDir' | 'logger'>, instance: Instance): Promise<void> {
  const names = instance.spec.containers.map((c) => c.name ?? instance.service);
  const saved = [...names, SANDBOX_CONTAINER].map((name) => ({ name, file: readHandleFile<RunningContainer>(ctx.dataDir, instance.id, name) }));
  for (const { name, file } of saved) if (file) await removeOne(ctx, instance.id, name, file.handle);
}

/**
 * Removes one container, trying 3 times (0.5 s, then 1 s apart: a busy engine times out, or is still
 * removing it). A container left after that is said in the log; the agent removes it at its next
 * start, when it finds containers of instances that ended (agent.ts, adoption).
 */
async function removeOne(ctx: Pick<RunnerContext, 'driver' | 'logger'>, instanceId: string, name: string, handle: ContainerHandle): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.driver.destroy(handle);
      return;
    } catch (error) {
      if (attempt >= 3) {
        ctx.logger.warn({ instance: instanceId, container: name, err: error }, 'removing an ended container failed 3 times; the agent removes it when it next starts');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}
