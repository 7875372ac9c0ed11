import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { countValue } from './spec-flags.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, rolloutTarget, waitWithProgress } from './wait-flags.js';

type RollbackFlags = WaitFlags & { readonly to?: number; readonly version?: number };

/**
 * `berth service rollback NAME [--to VERSION]`: deploys an earlier version's spec again, as a new
 * version (Swarm's `service rollback`, Kubernetes' `rollout undo`), rolled out with its rollbackConfig;
 * waits for it like deploy and exits 1 when it pauses.
 */
export function serviceRollbackCommand(deps: CliDeps): Command {
  const command = new Command('rollback')
    .description('deploy an earlier version of a service again (default: the version deployed before the current one) and wait')
    .argument('<name>', 'service name')
    .option('--to <version>', 'the version to go back to (`berth service history NAME` lists them)', countValue)
    .option('--version <n>', 'refuse the rollback when the service moved past version N (its compare-and-set token)', countValue);
  addWaitOptions(command);
  return command.action(async (name: string, flags: RollbackFlags, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const service = await ctx.client.rollback(ctx.grid, name, {
      ...(flags.to === undefined ? {} : { to: flags.to }),
      ...(flags.version === undefined ? {} : { version: flags.version }),
    });
    const to = service.deployment?.rollbackTo;
    ctx.out(`rolling back ${name} to version ${to ?? '?'} (deployed as generation ${service.deployment?.generation ?? service.generation})`);
    if (flags.wait) await waitWithProgress(ctx, [rolloutTarget(ctx.grid, service)], { timeout: flags.timeout });
  });
}
