import { Command } from 'commander';
import type { ExplanationReason, ServiceExplanation } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { colourHealth, colourState } from './instance-state-view.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import type { Palette } from './palette.js';

/**
 * `berth service why NAME`: one answer to "why is this service not healthy, not converged, paused" —
 * the verdict, the reasons with their evidence (probe output, exit codes, last log lines, events), the
 * instances, and what to do. Exits 0 whatever the verdict (`-o json` gives it to scripts).
 */
export function serviceWhyCommand(deps: CliDeps): Command {
  return new Command('why')
    .description('explain why a service is not healthy, not converged or paused, with the evidence and what to do')
    .argument('<name>', 'service name')
    .addOption(outputOption())
    .action(async (name: string, flags: { readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const why = await ctx.client.why(ctx.grid, name);
      if (flags.output !== 'table') ctx.stdout.write(formatStructured(why, flags.output));
      else ctx.out(renderExplanation(name, why, ctx.palette));
    });
}

const VERDICT_COLOUR: Record<ServiceExplanation['verdict'], keyof Pick<Palette, 'green' | 'yellow' | 'red' | 'dim'>> = {
  healthy: 'green',
  converging: 'yellow',
  degraded: 'yellow',
  paused: 'red',
  rolled_back: 'red',
  failed: 'red',
  stopped: 'dim',
  not_deployed: 'dim',
  removing: 'dim',
};

/** The human view: verdict line, numbered reasons with indented evidence, instances, suggestions. */
export function renderExplanation(name: string, why: ServiceExplanation, c: Palette): string {
  const verdict = c[VERDICT_COLOUR[why.verdict]](why.verdict.replace('_', ' '));
  const lines = [`${c.bold(name)}: ${verdict} — ${why.summary}`];
  if (why.reasons.length > 0) {
    lines.push('', 'reasons:');
    why.reasons.forEach((r, k) => lines.push(`  ${k + 1}. ${r.message}`, ...evidenceLines(r, c).map((l) => `     ${l}`)));
  }
  if (why.instances.length > 0) {
    lines.push('', 'instances:');
    const width = Math.max(...why.instances.map((i) => i.id.length));
    for (const i of why.instances) {
      const desired = i.desiredState === 'running' ? '' : `  (desired ${i.desiredState})`;
      // Without probes there is no health word: a running instance that is not ready (its node is
      // down, so its last report is all that is known) was shown as plainly running.
      const health = i.health ? `  ${colourHealth(i.health, c)}` : i.state === 'running' && !i.ready && i.desiredState === 'running' ? `  ${c.yellow('not ready')}` : '';
      lines.push(`  ${`${name}-${i.slot}`.padEnd(name.length + 4)} ${i.id.padEnd(width)}  gen ${String(i.generation).padEnd(3)} ${colourState(i.state, c, i.state.padEnd(8))}${health}${desired}`.trimEnd());
    }
  }
  if (why.suggestions.length > 0) {
    lines.push('', 'suggestions:');
    for (const s of why.suggestions) lines.push(`  - ${s}`);
  }
  return lines.join('\n');
}

function evidenceLines(r: ExplanationReason, c: Palette): string[] {
  const e = r.evidence;
  const out: string[] = [];
  if (e.probe) {
    out.push(`probe: ${e.probe.kind} ${e.probe.target} (container ${e.probe.container}), ${e.probe.consecutiveFailures} consecutive failure${e.probe.consecutiveFailures === 1 ? '' : 's'}`);
    out.push(`output: ${e.probe.lastOutput}`);
  }
  if (e.exitCode !== undefined || e.signal) out.push(`exit: ${[e.exitCode === undefined ? '' : `code ${e.exitCode}`, e.signal ?? ''].filter(Boolean).join(', ')}`);
  if (e.restarts) out.push(`restarts: ${e.restarts}`);
  if (e.lastLogLines && e.lastLogLines.length > 0) {
    out.push('last log lines:');
    for (const l of e.lastLogLines) out.push(`  ${c.dim('|')} ${l}`);
  }
  if (e.listener) out.push(`listener: ${e.listener.listener} (${e.listener.kind}, service port ${e.listener.servicePort}), error ${e.listener.error}: ${e.listener.message}; failing since ${e.listener.since}`);
  if (e.event) out.push(`event: ${c.dim(e.event.time.replace(/\.\d+Z$/, 'Z'))}  ${e.event.type}  ${e.event.message}`);
  return out;
}
