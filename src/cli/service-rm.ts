import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError } from './cli-error.js';
import { confirm } from './confirm.js';
import { isTty } from './palette.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, waitWithProgress } from './wait-flags.js';

/**
 * `berth service rm NAME...`: asks `Destroy service web? [y/N]` on a terminal unless `--force`; refuses
 * without `--force` when stdin is not a terminal (a script must say so). Waits until the services are
 * gone (GET answers 404) unless `--no-wait`.
 */
export function serviceRmCommand(deps: CliDeps): Command {
  const command = new Command('rm')
    .alias('remove')
    .description('remove services: stop their instances and delete them')
    .argument('<names...>', 'service names')
    .option('--force', 'do not ask for confirmation');
  addWaitOptions(command);
  return command.action(async (names: string[], flags: WaitFlags & { readonly force?: boolean }, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const chosen: string[] = [];
    for (const name of names) {
      if (!flags.force) {
        if (!isTty(ctx.stdin)) {
          throw new CliError(`refusing to remove ${name} without confirmation: stdin is not a terminal; pass --force to remove without asking`);
        }
        if (!(await confirm(`Destroy service ${name}?`, ctx))) {
          ctx.note(`kept ${name}`);
          continue;
        }
      }
      chosen.push(name);
    }
    for (const name of chosen) {
      await ctx.client.removeService(ctx.grid, name);
      ctx.out(`removing ${name}`);
    }
    if (flags.wait && chosen.length > 0) {
      await waitWithProgress(ctx, chosen.map((name) => ({ grid: ctx.grid, name, goal: 'removed' as const })), { timeout: flags.timeout });
    }
  });
}
