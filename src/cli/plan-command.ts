import { Command } from 'commander';
import type { WhatIfPlan } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { UsageError } from './cli-error.js';
import { labelValue } from './flag-values.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { renderTable } from './table.js';

interface PlanFlags {
  readonly failNode?: string;
  readonly drain?: string;
  readonly addNode?: Record<string, string>;
  readonly name?: string;
  readonly output: OutputFormat;
}

function headline(plan: WhatIfPlan): string {
  const c = plan.change;
  if (c.kind === 'fail-node') return `What if node ${c.node} failed (down: its replicated instances are replaced elsewhere, stateful slots wait):`;
  if (c.kind === 'drain') return `What if node ${c.node} were drained (its instances move, each replacement ready before the old one stops):`;
  const labels = Object.entries(c.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return `What if a node${c.name ? ` ${c.name}` : ''}${labels ? ` with ${labels}` : ''} joined:`;
}

/** The plan as a person reads it: moves, starts, stops, pending, waiting, services that drop. */
export function formatPlan(plan: WhatIfPlan): string {
  const out: string[] = [headline(plan), ''];
  const svc = (m: { grid: string; service: string }): string => (m.grid === 'default' ? m.service : `${m.grid}/${m.service}`);
  const moved = [...plan.moves.map((m) => ['move', m] as const), ...plan.starts.map((m) => ['start', m] as const), ...plan.stops.map((m) => ['stop', m] as const)];
  if (moved.length > 0) {
    out.push(renderTable(['ACTION', 'SERVICE', 'SLOT', 'FROM', 'TO', 'WHY'], moved.map(([what, m]) => [what, svc(m), m.slot, m.from ?? '-', m.to ?? '-', m.reason])), '');
  }
  if (plan.pending.length > 0) {
    out.push('Would stay pending (no node can take them):');
    out.push(renderTable(['SERVICE', 'SLOT', 'WHY'], plan.pending.map((p) => [svc(p), p.slot, p.message])), '');
  }
  if (plan.waiting.length > 0) {
    out.push('Would wait for their node:');
    out.push(renderTable(['SERVICE', 'SLOT', 'NODE', 'WHY'], plan.waiting.map((w) => [svc(w), w.slot, w.node, w.reason])), '');
  }
  const dropping = plan.services.filter((s) => s.belowReplicas || s.belowMinHealth);
  if (dropping.length > 0) {
    out.push('Services below their replicas or minHealth:');
    out.push(
      renderTable(
        ['SERVICE', 'DESIRED', 'READY NOW', 'LOWEST', 'AFTER', 'MIN HEALTH'],
        dropping.map((s) => [svc(s), s.desired, s.readyBefore, s.readyDuring, s.readyAfter, s.minHealth === undefined ? '-' : `${Math.round(s.minHealth * 100)}%${s.belowMinHealth ? ' (below)' : ''}`]),
      ),
      '',
    );
  }
  if (moved.length === 0 && plan.pending.length === 0 && plan.waiting.length === 0 && dropping.length === 0) out.push('Nothing would change.', '');
  if (!plan.settled) out.push(`(still changing after ${plan.rounds} simulated passes: the plan shows where it stood)`, '');
  return out.join('\n').trimEnd();
}

/**
 * `berth plan --fail-node NODE | --drain NODE | --add-node LABELS`: what a change of the nodes would do,
 * computed by the controller's own code on a copy of the cluster; nothing is changed. No peer has it.
 */
export function planCommand(deps: CliDeps): Command {
  return new Command('plan')
    .description('what would move where if a node failed, were drained, or joined (nothing is changed)')
    .option('--fail-node <node>', 'a node fails: its replicated instances are replaced elsewhere')
    .option('--drain <node>', 'a node is drained')
    .option('--add-node <key=value>', 'a node with these labels joins (repeatable; --add-node "" for none)', (v: string, prev: Record<string, string> | undefined) => (v === '' ? { ...(prev ?? {}) } : labelValue(v, prev)))
    .option('--name <name>', 'with --add-node: its name (default new-node)')
    .addOption(outputOption())
    .action(async (flags: PlanFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const given = [flags.failNode, flags.drain, flags.addNode].filter((v) => v !== undefined).length;
      if (given !== 1) throw new UsageError('give exactly one of --fail-node NODE, --drain NODE, --add-node key=value');
      if (flags.name !== undefined && flags.addNode === undefined) throw new UsageError('--name goes with --add-node');
      const plan = await ctx.client.plan(
        flags.failNode !== undefined
          ? { failNode: flags.failNode }
          : flags.drain !== undefined
            ? { drain: flags.drain }
            : { addNode: { labels: flags.addNode ?? {}, ...(flags.name ? { name: flags.name } : {}) } },
      );
      if (flags.output !== 'table') ctx.stdout.write(formatStructured(plan, flags.output));
      else ctx.out(formatPlan(plan));
      // A node that is down already: losing it has happened, so the plan is empty for that reason.
      if (flags.failNode !== undefined) {
        const node = (await ctx.client.nodes().catch(() => [])).find((n) => n.name === flags.failNode);
        if (node && !node.ready) ctx.note(`node ${node.name} is down already: what its failure does has been done (\`berth node ls\`, \`berth service why\`)`);
      }
    });
}
