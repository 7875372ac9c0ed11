import { Command } from 'commander';
import type { Instance } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { formatAge } from './format-age.js';
import { colourHealth, colourState, healthOf, isTerminalState } from './instance-state-view.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import type { Palette } from './palette.js';
import { renderTable } from './table.js';

/** `berth service ps NAME`: the service's instances (`docker service ps`; Kontena's `containers`). */
export function servicePsCommand(deps: CliDeps): Command {
  return new Command('ps')
    .description('list the instances of a service')
    .argument('<name>', 'service name')
    .option('-a, --all', 'include terminated instances (history)')
    .addOption(outputOption())
    .action(async (name: string, flags: { readonly all?: boolean; readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const listed = await ctx.client.listInstances(ctx.grid, name);
      const instances = flags.all ? listed : liveOrAwaited(listed);
      if (flags.output !== 'table') {
        ctx.stdout.write(formatStructured(instances, flags.output));
      } else if (instances.length === 0) {
        ctx.note(flags.all ? `service ${name} has no instances` : `service ${name} has no active instances (-a shows terminated ones)`);
      } else {
        // The nodes: NODE is shown on a cluster of several even when every instance is on one of them,
        // and a node marked down or removed is said so (its instances' last status is stale). Reading
        // nodes needs cluster-read; without it NODE shows only when the instances are on several.
        const nodes = await ctx.client.nodes().catch(() => []);
        const downNodes = new Set(nodes.filter((n) => !n.ready).map((n) => n.name));
        ctx.out(renderInstanceTable(name, instances, ctx.now(), ctx.palette, { downNodes, knownNodes: new Set(nodes.map((n) => n.name)) }));
      }
    });
}

/**
 * What `ps` shows without -a: the live instances, and in a slot without one the instance that ended
 * and is still meant to run (desired `running`: its restart waits for the back-off, or its restart
 * policy ended it), as `kubectl get pods` shows a pod in CrashLoopBackOff; a slot does not vanish
 * between a crash and its restart. Replaced and scaled-away instances (desired `shutdown`) are history (-a).
 */
export function liveOrAwaited(instances: readonly Instance[]): Instance[] {
  const live = new Set(instances.filter((i) => !isTerminalState(i.status.state)).map((i) => i.slot));
  const awaited = new Map<number, Instance>();
  for (const i of instances) {
    if (!isTerminalState(i.status.state) || live.has(i.slot) || i.desiredState !== 'running') continue;
    const newest = awaited.get(i.slot);
    if (!newest || i.createdAt > newest.createdAt) awaited.set(i.slot, i);
  }
  return instances.filter((i) => !isTerminalState(i.status.state) || awaited.get(i.slot) === i);
}

/**
 * NAME (web-1), ID, STATE, HEALTH (healthy, unhealthy, starting; `-` without probes or once ended),
 * DESIRED, NODE (when the instances are on more than one node, or `knownNodes` has several;
 * `n2 (down)` for a node in `downNodes`, whose instances' state is the last one its agent reported —
 * `n2 (down; slot waits for it)` when the instance is still meant to run there (`service why` says so too);
 * `n3 (removed)` for one missing from `knownNodes`, when given: `berth node rm` forgot it),
 * ADDRESS, PID (of its running containers), RESTARTS, STARTED/EXIT.
 */
export function renderInstanceTable(service: string, instances: readonly Instance[], now: number, palette: Palette, options: { readonly downNodes?: ReadonlySet<string>; readonly knownNodes?: ReadonlySet<string> } = {}): string {
  const nodeText = (i: Instance): string => {
    if (options.knownNodes !== undefined && options.knownNodes.size > 0 && !options.knownNodes.has(i.node)) return `${i.node} (removed)`;
    if (!options.downNodes?.has(i.node)) return i.node;
    // Still meant to run there: its slot waits for the node (a global or stateful slot, or one that no
    // other node can take); otherwise it was replaced elsewhere and stops when its agent returns.
    return i.desiredState === 'running' ? `${i.node} (down; slot waits for it)` : `${i.node} (down)`;
  };
  const nodes = new Set(instances.map((i) => i.node)).size > 1 || (options.knownNodes?.size ?? 0) > 1;
  return renderTable(
    ['NAME', 'ID', 'STATE', 'HEALTH', 'DESIRED', ...(nodes ? ['NODE'] : []), 'ADDRESS', 'PID', 'RESTARTS', 'STARTED/EXIT'],
    instances.map((i) => [
      `${service}-${i.slot}`,
      i.id,
      colourState(i.status.state, palette),
      isTerminalState(i.status.state) ? '-' : colourHealth(healthOf(i), palette) || '-',
      i.desiredState,
      ...(nodes ? [nodeText(i)] : []),
      i.spec.address || '-',
      pidsOf(i),
      i.restarts,
      startedOrExit(i, now),
    ]),
  );
}

/** The process ids of a live instance's containers (what `kill` needs), `-` once it ended. */
function pidsOf(i: Instance): string {
  if (isTerminalState(i.status.state)) return '-';
  const pids = (i.status.containers ?? []).map((c) => c.pid).filter((p): p is number => p !== undefined);
  return pids.length > 0 ? pids.join(',') : '-';
}

/** `started 3m ago`, `exit 1, 2m ago`, `SIGKILL, 2m ago`, `-` before it started. */
export function startedOrExit(i: Instance, now: number): string {
  const s = i.status;
  if (isTerminalState(s.state)) {
    const how = s.signal ? s.signal : s.exitCode !== undefined ? `exit ${s.exitCode}` : s.state;
    return `${how}, ${formatAge(s.finishedAt ?? s.timestamp, now)} ago`;
  }
  return s.startedAt ? `started ${formatAge(s.startedAt, now)} ago` : '-';
}
