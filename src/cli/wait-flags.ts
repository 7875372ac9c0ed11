import type { Command } from 'commander';
import { parseDuration } from '../lib/index.js';
import type { CliContext } from './cli-context.js';
import type { ConvergenceTarget, ServiceProgress } from './convergence.js';
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
 * @throws CliError on timeout or interrupt
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
  for (const p of progress) ctx.out(convergedLine(p));
  return progress;
}

export function convergedLine(p: ServiceProgress): string {
  if (p.goal === 'removed' || !p.service) return `service ${p.name} removed`;
  if (p.goal === 'stopped') return `service ${p.name} is stopped`;
  const s = p.service.status;
  return `service ${p.name} is running: ${s.runningInstances}/${s.desiredInstances} instances (generation ${p.service.deployment?.generation ?? p.service.generation})`;
}
