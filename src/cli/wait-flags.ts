import type { Command } from 'commander';
import { parseDuration } from '../lib/index.js';
import type { CliContext } from './cli-context.js';
import { CliError } from './cli-error.js';
import type { Service } from '../model/index.js';
import type { ConvergenceTarget, ServiceProgress } from './convergence.js';
import type { RolloutTarget } from './rollout-outcome.js';
import { EXIT_ROLLOUT_DEGRADED } from './rollout-outcome.js';
import { waitForConvergence } from './convergence.js';
import { durationValue } from './spec-flags.js';
import { ProgressView } from './progress-view.js';

/** The flags of every command that waits for its services to converge. */
export interface WaitFlags {
  /** false with `--no-wait`. */
  readonly wait: boolean;
  /** `--timeout`: seconds or a duration; default 600 s (Kontena's CLI deploy wait). */
  readonly timeout: string;
}

export const DEFAULT_WAIT_TIMEOUT = '600s';

export function addWaitOptions(command: Command): Command {
  return command
    .option('--no-wait', 'return at once instead of waiting for the service to converge')
    .option('--timeout <duration>', 'how long to wait: seconds or a duration such as 10m', durationValue, DEFAULT_WAIT_TIMEOUT);
}

/**
 * Waits for the targets with per-instance progress, then prints one line per service:
 * `service web is running: 3/3 instances (generation 2)`, `service web is stopped`, `service web removed`.
 * @throws CliError (exit 1) when a target's rollout paused or was rolled back (naming why, with the
 *   commands that help), on timeout, or on interrupt (exit 130); exit 3 (EXIT_ROLLOUT_DEGRADED) when
 *   the rollouts ended but one completed with failed new instances (failureAction continue)
 */
export async function waitWithProgress(
  ctx: CliContext,
  targets: readonly ConvergenceTarget[],
  options: { readonly timeout: string; readonly signal?: AbortSignal },
): Promise<ServiceProgress[]> {
  const view = new ProgressView({ stdout: ctx.stdout, interactive: ctx.interactive, palette: ctx.palette });
  let progress: ServiceProgress[];
  try {
    progress = await waitForConvergence(ctx.client, targets, {
      timeoutMs: parseDuration(options.timeout),
      onProgress: (p) => view.update(p),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    view.done();
  }
  const failed = progress.filter((p) => p.failed !== undefined);
  const degraded = progress.filter((p) => p.degraded !== undefined);
  for (const p of progress) if (p.failed === undefined) ctx.out(convergedLine(p));
  if (failed.length > 0 || degraded.length > 0) {
    const hints = [...failed, ...degraded].map((p) => {
      const why = `\`${ctx.commandHint(`service why ${p.name}`)}\` shows the evidence`;
      if (p.service?.deployment?.cause === 'auto-rollback') return `${why}; \`${ctx.commandHint(`service history ${p.name}`)}\` lists the versions`;
      // A first deploy has no version before it to go back to.
      if (p.service?.status.update?.fromGeneration === undefined) return why;
      return `${why}; \`${ctx.commandHint(`service rollback ${p.name}`)}\` goes back to the version before`;
    });
    // A rollout that failed outweighs one that completed with failures (exit 1 over 3).
    const message = [...failed.map((p) => `${p.name}: ${p.failed ?? ''}`), ...degraded.map((p) => `${p.name}: ${p.degraded ?? ''}`)].join('; ');
    throw new CliError(message, { lines: hints, ...(failed.length === 0 ? { exitCode: EXIT_ROLLOUT_DEGRADED } : {}) });
  }
  return progress;
}

/** The rollout a deploy-like answer started: its deployment's requestedAt and generation (undefined without one). */
export function rolloutOf(service: Service): RolloutTarget | undefined {
  const d = service.deployment;
  return d ? { requestedAt: d.requestedAt, generation: d.generation } : undefined;
}

/** A `running` target that follows the rollout `service` (the answer of a deploy) started. */
export function rolloutTarget(grid: string, service: Service): ConvergenceTarget {
  const rollout = rolloutOf(service);
  return { grid, name: service.name, goal: 'running', ...(rollout ? { rollout } : {}) };
}

export function convergedLine(p: ServiceProgress): string {
  if (p.goal === 'removed' || !p.service) return `service ${p.name} removed`;
  if (p.goal === 'stopped') return `service ${p.name} is stopped`;
  const s = p.service.status;
  if (p.degraded !== undefined) {
    const u = s.update;
    const failedSlots = u ? u.totalInstances - u.updatedInstances : 0;
    return `service ${p.name} rolled out with failures: ${s.runningInstances}/${s.desiredInstances} instances running, ${failedSlots} failed (generation ${p.service.deployment?.generation ?? p.service.generation})`;
  }
  return `service ${p.name} is running: ${s.runningInstances}/${s.desiredInstances} instances (generation ${p.service.deployment?.generation ?? p.service.generation})`;
}
