import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { countValue } from './spec-flags.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, rolloutTarget, waitWithProgress } from './wait-flags.js';

/**
 * `berth service deploy NAME`: makes the current spec the deployed one and waits for its rollout
 * (Kontena), showing each instance; exits 1 when the rollout pauses, is rolled back, or times out.
 */
export function serviceDeployCommand(deps: CliDeps): Command {
  const command = new Command('deploy')
    .description('deploy the current spec of a service and wait until its instances run it')
    .argument('<name>', 'service name')
    .option('--force', 'replace every instance even when the spec did not change')
    .option('--version <n>', 'refuse the deploy when the service moved past version N (its compare-and-set token)', countValue);
  addWaitOptions(command);
  return command.action(async (name: string, flags: WaitFlags & { readonly force?: boolean; readonly version?: number }, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const service = await ctx.client.deploy(ctx.grid, name, { ...(flags.force ? { force: true } : {}), ...(flags.version === undefined ? {} : { version: flags.version }) });
    ctx.out(`deploying ${name} generation ${service.deployment?.generation ?? service.generation}${flags.force ? ' (forced: replacing every instance)' : ''}`);
    if (flags.wait) await waitWithProgress(ctx, [rolloutTarget(ctx.grid, service)], { timeout: flags.timeout });
  });
}
