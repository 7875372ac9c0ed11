import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, waitWithProgress } from './wait-flags.js';

/** `berth service deploy NAME`: makes the current spec the deployed one and waits for it (Kontena). */
export function serviceDeployCommand(deps: CliDeps): Command {
  const command = new Command('deploy')
    .description('deploy the current spec of a service and wait until its instances run it')
    .argument('<name>', 'service name')
    .option('--force', 'replace every instance even when the spec did not change');
  addWaitOptions(command);
  return command.action(async (name: string, flags: WaitFlags & { readonly force?: boolean }, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const service = await ctx.client.deploy(ctx.grid, name, flags.force ? { force: true } : {});
    ctx.out(`deploying ${name} generation ${service.deployment?.generation ?? service.generation}${flags.force ? ' (forced: replacing every instance)' : ''}`);
    if (flags.wait) await waitWithProgress(ctx, [{ grid: ctx.grid, name, goal: 'running' }], { timeout: flags.timeout });
  });
}
