import { Command } from 'commander';
import { isApiError } from '../client/index.js';
import type { Instance, InstanceStats, Service } from '../model/index.js';
import { parseDuration } from '../lib/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { deployStateOf } from './deploy-state-view.js';
import { formatAge } from './format-age.js';
import { formatBytes } from './format-bytes.js';
import { colourState, latestPerSlot, stateSymbol } from './instance-state-view.js';
import { LiveView } from './live-view.js';
import type { Palette } from './palette.js';
import { repeatUntilAborted } from './repeat-until-aborted.js';
import { durationValue } from './spec-flags.js';
import { renderTable } from './table.js';

/**
 * `berth service monitor NAME`: a live view of the instances (Kontena's `service monitor`), redrawn in
 * place every interval until Ctrl-C; when stdout is not a terminal, one snapshot per interval.
 */
export function serviceMonitorCommand(deps: CliDeps): Command {
  return new Command('monitor')
    .description('watch the instances of a service live: state, address, restarts, CPU and memory')
    .argument('<name>', 'service name')
    .option('--interval <seconds>', 'refresh interval: seconds or a duration', durationValue, '2s')
    .action(async (name: string, flags: { readonly interval: string }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const view = new LiveView(ctx.stdout, ctx.interactive);
      const interrupt = ctx.interruptSignal();
      try {
        await repeatUntilAborted(parseDuration(flags.interval), interrupt.signal, async () => {
          let frame: string;
          try {
            const [service, instances, stats] = await Promise.all([
              ctx.client.getService(ctx.grid, name),
              ctx.client.listInstances(ctx.grid, name, { active: true }),
              ctx.client.stats(ctx.grid, name),
            ]);
            frame = renderMonitorFrame({ service, instances, stats }, { now: ctx.now(), palette: ctx.palette });
          } catch (e) {
            if (isApiError(e, 'SERVICE_NOT_FOUND')) throw e;
            // Keep watching through a server restart: show why the view is stale and try again.
            frame = `${name}: ${ctx.palette.red(e instanceof Error ? e.message : String(e))}`;
          }
          view.render(view.interactive ? frame : `${frame}\n`);
        });
      } finally {
        interrupt.dispose();
        view.done();
      }
    });
}

export interface MonitorSnapshot {
  readonly service: Service;
  readonly instances: readonly Instance[];
  readonly stats: readonly InstanceStats[];
}

/** A header line, one coloured symbol per slot (Kontena's squares), then the instance table. */
export function renderMonitorFrame(snapshot: MonitorSnapshot, options: { readonly now: number; readonly palette: Palette }): string {
  const c = options.palette;
  const { service, stats } = snapshot;
  const s = service.status;
  const instances = latestPerSlot(snapshot.instances);
  const time = new Date(options.now).toTimeString().slice(0, 8);
  const generation = deployStateOf(service).kind === 'network-only' ? 'no containers' : service.deployment ? `generation ${service.deployment.generation}` : 'not deployed';
  const header = `${c.bold(service.name)}  ${colourState(s.phase, c)}  ${s.runningInstances}/${s.desiredInstances} instances  ${generation}  ${c.dim(time)}`;
  if (instances.length === 0) return `${header}\n\nno active instances`;
  const symbols = instances.map((i) => colourState(i.status.state, c, stateSymbol(i.status.state))).join(' ');
  const bySlot = new Map(stats.map((st) => [st.slot, st]));
  const table = renderTable(
    ['INSTANCE', 'STATE', 'ADDRESS', 'RESTARTS', 'CPU %', 'MEMORY', 'PROCS', 'UPTIME'],
    instances.map((i) => {
      const st = i.status.state === 'running' ? bySlot.get(i.slot) : undefined;
      return [
        `${service.name}-${i.slot}`,
        colourState(i.status.state, c),
        i.spec.address || '-',
        i.restarts,
        st ? `${st.cpuPercent.toFixed(1)}%` : '-',
        st ? formatBytes(st.memoryBytes) : '-',
        st ? st.processes : '-',
        i.status.state === 'running' ? formatAge(i.status.startedAt, options.now) : '-',
      ];
    }),
  );
  return `${header}\n${symbols}\n\n${table}`;
}
