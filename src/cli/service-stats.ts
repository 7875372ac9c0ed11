import { Command } from 'commander';
import type { InstanceStats, UnreachableNode } from '../model/index.js';
import { parseDuration } from '../lib/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { formatBytes } from './format-bytes.js';
import { LiveView } from './live-view.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { repeatUntilAborted } from './repeat-until-aborted.js';
import { durationValue } from './spec-flags.js';
import { renderTable } from './table.js';

interface StatsFlags {
  readonly tail?: boolean;
  readonly interval: string;
  readonly output: OutputFormat;
}

/** `berth service stats NAME`: CPU, memory and processes per instance (Kontena's `service stats`). */
export function serviceStatsCommand(deps: CliDeps): Command {
  return new Command('stats')
    .description('show resource use per instance: CPU (100% = one core), resident memory, processes')
    .argument('<name>', 'service name')
    .option('-t, --tail', 'keep refreshing until Ctrl-C')
    .option('--interval <duration>', 'refresh interval with --tail: seconds or a duration', durationValue, '2s')
    .addOption(outputOption())
    .action(async (name: string, flags: StatsFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const show = async (view: LiveView | undefined): Promise<void> => {
        const { items: stats, unreachable } = await ctx.client.statsReport(ctx.grid, name);
        if (flags.output !== 'table') ctx.stdout.write(formatStructured(stats, flags.output));
        else if (view) view.render([renderStatsTable(name, stats), ...unreachable.map(unreachableLine)].join('\n'));
        else ctx.out(renderStatsTable(name, stats));
        // Instances of a node whose agent did not answer are not in the table: said, never silently left out.
        if (!view || flags.output !== 'table') for (const u of unreachable) ctx.note(`berth: warning: ${unreachableLine(u)}`);
      };
      if (!flags.tail) {
        await show(undefined);
        return;
      }
      const view = new LiveView(ctx.stdout, ctx.interactive && flags.output === 'table');
      const interrupt = ctx.interruptSignal();
      try {
        await repeatUntilAborted(parseDuration(flags.interval), interrupt.signal, () => show(view));
      } finally {
        interrupt.dispose();
        view.done();
      }
    });
}

/** "node vm-a did not answer (…): its 2 instances are not shown". */
export function unreachableLine(u: UnreachableNode): string {
  const count = u.instances.length;
  return `node ${u.node} did not answer (${u.reason}): ${count === 1 ? 'its instance is' : `its ${count} instances are`} not shown`;
}

/** INSTANCE, CPU %, MEM USAGE, PROCS; `(no running instances)` when empty. */
export function renderStatsTable(service: string, stats: readonly InstanceStats[]): string {
  if (stats.length === 0) return `${service}: no running instances`;
  return renderTable(
    ['INSTANCE', 'CPU %', 'MEM USAGE', 'PROCS'],
    [...stats].sort((a, b) => a.slot - b.slot).map((s) => [`${service}-${s.slot}`, `${s.cpuPercent.toFixed(1)}%`, formatBytes(s.memoryBytes), s.processes]),
  );
}
