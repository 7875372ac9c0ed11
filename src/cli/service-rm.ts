import { Command } from 'commander';
import { isApiError } from '../client/index.js';
import type { SlotVolume } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError, UsageError } from './cli-error.js';
import { confirm } from './confirm.js';
import { isTty } from './palette.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, waitWithProgress } from './wait-flags.js';

type RmFlags = WaitFlags & { readonly force?: boolean; readonly instance?: string; readonly volumes?: boolean };

/**
 * `berth service rm NAME...`: asks `Destroy service web? [y/N]` on a terminal unless `--force`; refuses
 * without `--force` when stdin is not a terminal (a script must say so). Waits until the services are
 * gone (GET answers 404) unless `--no-wait`.
 *
 * A stateful service's per-slot data directories are kept unless `--volumes` is given (Docker's `rm
 * -v`, a StatefulSet's PVCs): rm lists what it keeps, since a new service of the same name would find
 * and use that data.
 *
 * `berth service rm NAME --instance N` (Kontena's): stops one instance — a slot number or an instance
 * id — which the controller replaces with a new instance in its slot (after the drain: no request is
 * lost); the same confirmation rules, and waits until the new instance runs and is ready.
 */
export function serviceRmCommand(deps: CliDeps): Command {
  const command = new Command('rm')
    .alias('remove')
    .description('remove services: stop their instances and delete them; with --instance, replace one instance')
    .argument('<names...>', 'service names')
    .option('--force', 'do not ask for confirmation')
    .option('--instance <slot|id>', 'remove only this instance (a slot number or an instance id); the service puts a new one in its slot')
    .option('--volumes', 'also delete the data directories of stateful services (default: kept, and listed)');
  addWaitOptions(command);
  return command.action(async (names: string[], flags: RmFlags, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    if (flags.instance !== undefined) {
      if (flags.volumes) throw new UsageError('--volumes removes the data of whole services; it does not go with --instance (a slot keeps its data across instances)');
      await removeInstance(ctx, names, flags.instance, flags);
      return;
    }
    const chosen: string[] = [];
    for (const name of names) {
      if (await confirmed(ctx, flags, `Destroy service ${name}?`, `remove ${name}`)) chosen.push(name);
      else ctx.note(`kept ${name}`);
    }
    for (const name of chosen) {
      const volumes = await dataDirectories(ctx, name);
      await ctx.client.removeService(ctx.grid, name, flags.volumes ? { volumes: true } : {});
      if (volumes.length === 0) {
        ctx.out(`removing ${name}`);
      } else if (flags.volumes) {
        ctx.out(`removing ${name} and its data directories:`);
        for (const v of volumes) ctx.out(`  ${v.node}:${v.path}`);
      } else {
        ctx.out(`removing ${name}; its data directories are kept (a new service named ${name} would find and use them):`);
        for (const v of volumes) ctx.out(`  ${v.node}:${v.path}`);
        ctx.note(`delete them by hand when they are no longer needed; \`${ctx.commandHint(`service rm --volumes ${name}`)}\` removes a service together with its data`);
      }
    }
    if (flags.wait && chosen.length > 0) {
      await noteDownNodes(ctx, chosen);
      await waitWithProgress(ctx, chosen.map((name) => ({ grid: ctx.grid, name, goal: 'removed' as const })), { timeout: flags.timeout });
    }
  });
}

/**
 * Says which instances of the services being removed are on nodes marked down: the removal waits for
 * them until their agent returns and stops them (docs/scheduling.md), which a silent wait did not tell.
 * Reading nodes needs cluster-read; without it nothing is said.
 */
async function noteDownNodes(ctx: CliContext, names: readonly string[]): Promise<void> {
  const nodes = await ctx.client.nodes().catch(() => undefined);
  if (!nodes || nodes.length === 0) return;
  const down = new Set(nodes.filter((n) => !n.ready).map((n) => n.name));
  if (down.size === 0) return;
  for (const name of names) {
    // A service with nothing running is gone at once (404): nothing to wait for.
    const instances = await ctx.client.listInstances(ctx.grid, name, { active: true }).catch(() => []);
    const held = instances.filter((i) => down.has(i.node));
    for (const node of [...new Set(held.map((i) => i.node))]) {
      const which = held.filter((i) => i.node === node).map((i) => `${name}-${i.slot}`).join(', ');
      ctx.note(`${which} on node ${node}, which is down: the removal waits until its agent returns and stops them, or \`${ctx.commandHint(`node rm --force ${node}`)}\` if it will not (--no-wait returns now)`);
    }
  }
}

/** The service's data directories on the nodes; none from a server older than the volumes route. */
async function dataDirectories(ctx: CliContext, name: string): Promise<SlotVolume[]> {
  try {
    return await ctx.client.listVolumes(ctx.grid, { service: name });
  } catch (e) {
    if (isApiError(e, 'ROUTE_NOT_FOUND')) return [];
    throw e;
  }
}

async function removeInstance(ctx: CliContext, names: readonly string[], instance: string, flags: RmFlags): Promise<void> {
  const [name] = names;
  if (name === undefined || names.length !== 1) throw new UsageError(`--instance removes an instance of one service: give one NAME (got ${names.length})`);
  const what = /^\d+$/.test(instance) ? `${name}-${instance}` : instance;
  if (!(await confirmed(ctx, flags, `Remove instance ${what} of service ${name} (a new instance takes its slot)?`, `remove instance ${what}`))) {
    ctx.note(`kept ${what}`);
    return;
  }
  const removed = await ctx.client.removeInstance(ctx.grid, name, instance);
  ctx.out(`removing ${name}-${removed.slot} (${removed.id}); a new instance takes slot ${removed.slot}`);
  if (!flags.wait) return;
  await waitWithProgress(ctx, [{ grid: ctx.grid, name, goal: 'running', replacing: { instance: removed.id, slot: removed.slot } }], { timeout: flags.timeout });
}

/** True with --force, or when the user answers yes on a terminal; refuses without a terminal. */
async function confirmed(ctx: CliContext, flags: RmFlags, question: string, action: string): Promise<boolean> {
  if (flags.force) return true;
  if (!isTty(ctx.stdin)) {
    throw new CliError(`refusing to ${action} without confirmation: stdin is not a terminal; pass --force to ${action.split(' ')[0] ?? 'remove'} without asking`);
  }
  return confirm(question, ctx);
}
