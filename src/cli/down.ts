import { Command } from 'commander';
import { isApiError } from '../client/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { ConvergenceTarget } from './convergence.js';
import { readManifest } from './manifest.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, waitWithProgress } from './wait-flags.js';

/** `berth down -f FILE`: removes every service of a manifest (no confirmation) and waits until they are gone. */
export function downCommand(deps: CliDeps): Command {
  const command = new Command('down')
    .description('remove every service of a manifest and wait until they are gone')
    .requiredOption('-f, --file <file>', 'YAML manifest; - reads stdin');
  addWaitOptions(command);
  return command.action(async (flags: WaitFlags & { readonly file: string }, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const manifest = await readManifest(flags.file, ctx);
    const removing: ConvergenceTarget[] = [];
    for (const entry of manifest.services) {
      const grid = entry.grid ?? ctx.grid;
      try {
        await ctx.client.removeService(grid, entry.name);
      } catch (e) {
        if (!isApiError(e, 'SERVICE_NOT_FOUND')) throw e;
        ctx.out(`service/${entry.name} not found`);
        continue;
      }
      ctx.out(`service/${entry.name} removing`);
      removing.push({ grid, name: entry.name, goal: 'removed' });
    }
    if (flags.wait && removing.length > 0) await waitWithProgress(ctx, removing, { timeout: flags.timeout });
  });
}
