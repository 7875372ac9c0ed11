import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { WaitFlags } from './wait-flags.js';
import type { ConvergenceTarget } from './convergence.js';
import { addWaitOptions, rolloutTarget, waitWithProgress } from './wait-flags.js';

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
    const targets: ConvergenceTarget[] = [];
    for (const name of names) {
      const service = await ctx.client[action](ctx.grid, name);
      ctx.out(`${DOING[action]} ${name}`);
      // A restart is a rollout (every instance replaced, batch by batch): its outcome decides the exit code.
      targets.push(action === 'restart' ? rolloutTarget(ctx.grid, service) : { grid: ctx.grid, name, goal: action === 'stop' ? 'stopped' : 'running' });
    }
    if (!flags.wait) return;
    await waitWithProgress(ctx, targets, { timeout: flags.timeout });
  });
}
