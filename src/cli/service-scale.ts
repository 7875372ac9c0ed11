import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { countValue } from './spec-flags.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, rolloutTarget, waitWithProgress } from './wait-flags.js';

/** `berth service scale NAME N`: sets the instances and deploys at once (Kontena). */
export function serviceScaleCommand(deps: CliDeps): Command {
  const command = new Command('scale')
    .description('set the number of instances and deploy at once')
    .argument('<name>', 'service name')
    .argument('<instances>', 'number of instances', countValue);
  addWaitOptions(command);
  return command.action(async (name: string, instances: number, flags: WaitFlags, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const service = await ctx.client.scale(ctx.grid, name, instances);
    ctx.out(`scaling ${name} to ${instances} instance${instances === 1 ? '' : 's'} (generation ${service.deployment?.generation ?? service.generation})`);
    if (flags.wait) await waitWithProgress(ctx, [rolloutTarget(ctx.grid, service)], { timeout: flags.timeout });
  });
}
