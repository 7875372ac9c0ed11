import { Command } from 'commander';
import type { Service } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { formatAge } from './format-age.js';
import { colourState } from './instance-state-view.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import type { Palette } from './palette.js';
import { labelValue } from './spec-flags.js';
import { renderTable } from './table.js';

interface LsFlags {
  readonly quiet?: boolean;
  readonly output: OutputFormat;
  readonly label?: Readonly<Record<string, string>>;
}

/** `berth service ls`: the grid's services (Kontena's `service ls`). */
export function serviceLsCommand(deps: CliDeps): Command {
  return new Command('ls')
    .alias('list')
    .description('list the services of the grid')
    .option('-q, --quiet', 'print names only')
    .addOption(outputOption())
    .option('--label <key=value>', 'only services with this label (repeatable)', labelValue)
    .action(async (flags: LsFlags, command: Command) => {
      const ctx = CliContext.of(deps, command);
      const services = await ctx.client.listServices(ctx.grid, flags.label ? { labels: flags.label } : {});
      if (flags.quiet) {
        for (const s of services) ctx.out(s.name);
      } else if (flags.output !== 'table') {
        ctx.stdout.write(formatStructured(services, flags.output));
      } else if (services.length === 0) {
        ctx.note(`no services in grid ${ctx.grid}`);
      } else {
        ctx.out(renderServiceTable(services, ctx.now(), ctx.palette));
      }
    });
}

/** NAME, INSTANCES (running/desired), STATE, GENERATION, PORTS (container ports), AGE. */
export function renderServiceTable(services: readonly Service[], now: number, palette: Palette): string {
  return renderTable(
    ['NAME', 'INSTANCES', 'STATE', 'GENERATION', 'PORTS', 'AGE'],
    services.map((s) => [
      s.name,
      `${s.status.runningInstances}/${s.status.desiredInstances}`,
      colourState(s.status.phase, palette),
      generationCell(s),
      containerPorts(s) || '-',
      formatAge(s.createdAt, now),
    ]),
  );
}

/** `3`, or `3 (deployed 2)` when the spec moved past what is deployed, or `1 (not deployed)`. */
function generationCell(s: Service): string {
  if (!s.deployment) return `${s.generation} (not deployed)`;
  if (s.deployment.generation !== s.generation) return `${s.generation} (deployed ${s.deployment.generation})`;
  return String(s.generation);
}

function containerPorts(s: Service): string {
  return s.spec.containers.flatMap((c) => c.ports.map((p) => `${p.containerPort}/${p.protocol.toLowerCase()}`)).join(', ');
}
