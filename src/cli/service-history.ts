import { Command } from 'commander';
import type { SpecHistory } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { formatAge } from './format-age.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import type { Palette } from './palette.js';
import { describeSpecChange } from './spec-diff.js';
import { renderTable } from './table.js';

/** `berth service history NAME`: the versions of a service's spec (kubectl rollout history, Nomad's job history). */
export function serviceHistoryCommand(deps: CliDeps): Command {
  return new Command('history')
    .description('list the versions of a service spec (newest last) and what changed in each; `rollback --to N` deploys one again')
    .argument('<name>', 'service name')
    .addOption(outputOption())
    .action(async (name: string, flags: { readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const history = await ctx.client.history(ctx.grid, name);
      if (flags.output !== 'table') ctx.stdout.write(formatStructured(history, flags.output));
      else ctx.out(renderHistoryTable(history, ctx.now(), ctx.palette));
    });
}

/**
 * VERSION, CREATED, CAUSE, DEPLOYED (`running, 3m ago` for the deployed generation), CHANGES (against
 * the version before: `image, command changed; replicas 3→5`).
 */
export function renderHistoryTable(history: SpecHistory, now: number, palette: Palette): string {
  return renderTable(
    ['VERSION', 'CREATED', 'CAUSE', 'DEPLOYED', 'CHANGES'],
    history.items.map((r, k) => {
      const running = r.generation === history.deployedGeneration;
      const deployed = r.deployedAt ? `${formatAge(r.deployedAt, now)} ago` : '-';
      return [
        running ? palette.bold(String(r.generation)) : r.generation,
        `${formatAge(r.createdAt, now)} ago`,
        r.cause,
        running ? palette.green(`running, ${deployed}`) : deployed,
        describeSpecChange(history.items[k - 1]?.spec, r.spec) || '-',
      ];
    }),
  );
}
