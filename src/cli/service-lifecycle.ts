import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, waitWithProgress } from './wait-flags.js';

type Action = 'start' | 'stop' | 'restart';

const DESCRIPTIONS: Record<Action, string> = {
  start: 'start stopped services and wait until they run',
  stop: 'stop services (their instances get the stop signal, then SIGKILL after the grace period) and wait',
  restart: 'replace every instance of services, one update batch at a time, and wait',
};

const DOING: Record<Action, string> = { start: 'starting', stop: 'stopping', restart: 'restarting' };

/** `berth service start|stop|restart NAME...` (Kontena): acts on every name, then waits for all. */
export function serviceLifecycleCommand(deps: CliDeps, action: Action): Command {
  const command = new Command(action).description(DESCRIPTIONS[action]).argument('<names...>', 'service names');
  addWaitOptions(command);
  return command.action(async (names: string[], flags: WaitFlags, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    for (const name of names) {
      await ctx.client[action](ctx.grid, name);
      ctx.out(`${DOING[action]} ${name}`);
    }
    if (!flags.wait) return;
    const goal = action === 'stop' ? 'stopped' : 'running';
    await waitWithProgress(ctx, names.map((name) => ({ grid: ctx.grid, name, goal })), { timeout: flags.timeout });
  });
}
