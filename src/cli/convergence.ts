import type { BerthClient } from '../client/index.js';
import { isApiError } from '../client/index.js';
import type { Instance, Service } from '../model/index.js';
import { formatDuration } from '../lib/index.js';
import { CliError } from './cli-error.js';
import { isTerminalState } from './instance-state-view.js';
import type { RolloutTarget } from './rollout-outcome.js';
import { replacementDone, rolloutOutcome } from './rollout-outcome.js';

/** What a command waits for: deploy/scale/start/restart → running, stop → stopped, rm → removed. */
export type ConvergenceGoal = 'running' | 'stopped' | 'removed';

export interface ConvergenceTarget {
  readonly grid: string;
  readonly name: string;
  readonly goal: ConvergenceGoal;
  /**
   * The deployment the command wrote (deploy, update --deploy, scale, restart, rollback, apply): the
   * wait then follows its rollout's update status and fails when it pauses or is rolled back.
   */
  readonly rollout?: RolloutTarget;
  /** `rm --instance`: wait until this instance ended and a new one of its slot runs and is ready. */
  readonly replacing?: { readonly instance: string; readonly slot: number };
}

/** One service as last read while waiting; `service` is null once it is gone (404). */
export interface ServiceProgress extends ConvergenceTarget {
  readonly service: Service | null;
  /** Every instance of the service, history included (newest first within a slot). */
  readonly instances: readonly Instance[];
  readonly converged: boolean;
  /** Set when the rollout failed (paused, rolled back): the wait ends and the command fails with it. */
  readonly failed?: string;
  /** Set (with converged) when the rollout completed with failures: the update status's message. */
  readonly degraded?: string;
}

export interface WaitOptions {
  /** Give up after this long (ms): Kontena's CLI waits 600 s. */
  readonly timeoutMs: number;
  /** Stops waiting early; the promise then rejects with a CliError saying it was interrupted. */
  readonly signal?: AbortSignal;
  /** Called with every target after each read. */
  readonly onProgress?: (progress: readonly ServiceProgress[]) => void;
  /** Re-read this often even when the watch stream is quiet (ms, default 2000; 250 once the watch fails). */
  readonly pollMs?: number;
}

/**
 * True when a service has reached the goal (see `notConvergedBecause`).
 */
export function isConverged(goal: ConvergenceGoal, service: Service | null, instances: readonly Instance[]): boolean {
  return notConvergedBecause(goal, service, instances) === null;
}

/**
 * Why a service has not reached the goal yet, or null when it has.
 *
 * running: phase `running`, as many running instances as desired, the controllers have observed the
 * deployed generation, and every instance meant to run is running on the current restart generation
 * (so a `restart` or `deploy --force` is not taken as done before the controllers saw it). Instance
 * generations are not compared: a change of replicas alone keeps the running instances (as a
 * Deployment's pod-template hash ignores its replica count), and the controllers' observedGeneration
 * already says when the instances match the deployed spec.
 * stopped: phase `stopped` and no instance still alive. removed: the service is gone.
 */
export function notConvergedBecause(goal: ConvergenceGoal, service: Service | null, instances: readonly Instance[]): string | null {
  if (goal === 'removed') return service === null ? null : `${service.status.phase}, ${alive(instances)} instance(s) still alive`;
  if (service === null) return 'not found';
  const { status } = service;
  // The controllers' message usually starts with the counts ("1/2 running; web-2 restarting in 4s").
  const plain = `${status.runningInstances}/${status.desiredInstances} running`;
  const counts = status.message.startsWith(plain) ? status.message : status.message ? `${plain}: ${status.message}` : plain;
  if (goal === 'stopped') {
    if (status.phase !== 'stopped') return `${status.phase}, ${counts}`;
    const left = alive(instances);
    return left === 0 ? null : `${left} instance(s) still stopping`;
  }
  const deployment = service.deployment;
  if (!deployment) return 'not deployed';
  if (status.phase !== 'running' || status.runningInstances !== status.desiredInstances) return `${status.phase}, ${counts}`;
  if (status.observedGeneration !== deployment.generation) {
    return `the controllers have not taken up generation ${deployment.generation} yet (at ${status.observedGeneration})`;
  }
  // Ended instances are history (a crashed one is replaced in its slot), not instances meant to run.
  const meant = instances.filter((i) => i.desiredState === 'running' && !isTerminalState(i.status.state));
  const waiting = meant.filter((i) => i.status.state !== 'running').length;
  if (waiting > 0) return `${waiting} instance(s) not running yet`;
  const older = meant.filter((i) => i.restartGeneration !== undefined && i.restartGeneration !== deployment.restartGeneration).length;
  if (older > 0) return `${older} instance(s) not replaced yet`;
  return null;
}

function alive(instances: readonly Instance[]): number {
  return instances.filter((i) => !isTerminalState(i.status.state)).length;
}

/**
 * Waits until every target reaches its goal. Changes are followed through the watch stream
 * (`GET /v1/watch`): an event about a target triggers one coalesced re-read of it (level-triggered, as
 * a controller re-reads rather than trusting the event), with a periodic re-read as a safety net; if the
 * watch stream fails the periodic re-read carries on alone.
 * @returns the last progress of every target
 * @throws CliError on timeout (naming what is still missing) or when `signal` aborts; BerthApiError
 *   when a read fails (e.g. the server went away)
 */
export function waitForConvergence(
  client: BerthClient,
  targets: readonly ConvergenceTarget[],
  options: WaitOptions,
): Promise<ServiceProgress[]> {
  const progress = new Map<string, ServiceProgress>(
    targets.map((t) => [key(t.grid, t.name), { ...t, service: null, instances: [], converged: false }]),
  );
  const watchAbort = new AbortController();
  let timeoutTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let pollMs = options.pollMs ?? 2000;
  let dirty = false;
  let refreshing: Promise<void> | null = null;
  let settled = false;

  return new Promise<ServiceProgress[]>((resolve, reject) => {
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      watchAbort.abort();
      clearTimeout(timeoutTimer);
      clearTimeout(pollTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve([...progress.values()]);
      else reject(error);
    };
    const onAbort = (): void => finish(new CliError('interrupted while waiting', { exitCode: 130 }));

    const refreshAll = async (): Promise<void> => {
      await Promise.all(
        [...progress.values()].map(async (p) => {
          const next = await readProgress(client, p);
          progress.set(key(p.grid, p.name), next);
        }),
      );
      if (settled) return;
      const all = [...progress.values()];
      options.onProgress?.(all);
      if (all.every((p) => p.converged || p.failed !== undefined)) finish();
    };

    /** Runs refreshAll again while changes arrived during the last run: one read in flight at a time. */
    const schedule = (): void => {
      dirty = true;
      if (refreshing) return;
      refreshing = (async () => {
        while (dirty && !settled) {
          dirty = false;
          await refreshAll();
        }
      })()
        .catch((e: unknown) => finish(e))
        .finally(() => {
          refreshing = null;
        });
    };

    const follow = async (): Promise<void> => {
      for await (const event of client.watch({ signal: watchAbort.signal })) {
        const object = event.object as { grid?: string; name?: string; service?: string };
        const name = event.kind === 'service' ? object.name : event.kind === 'node' ? undefined : object.service;
        if (event.kind === 'node' || (name !== undefined && progress.has(key(object.grid ?? '', name)))) schedule();
      }
    };

    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    timeoutTimer = setTimeout(() => {
      const missing = [...progress.values()].filter((p) => !p.converged).map(describeMissing);
      finish(new CliError(`timed out after ${formatDuration(options.timeoutMs)} waiting for ${missing.join('; ')}`));
    }, options.timeoutMs);
    const poll = (): void => {
      if (settled) return;
      schedule();
      pollTimer = setTimeout(poll, pollMs);
    };
    // A failed or ended watch is not fatal: the periodic re-read still sees every change, only later.
    const fallBackToPolling = (): void => {
      pollMs = Math.min(pollMs, 250);
    };
    follow().then(fallBackToPolling, fallBackToPolling);
    poll();
  });
}

async function readProgress(client: BerthClient, target: ServiceProgress): Promise<ServiceProgress> {
  let service: Service | null;
  let instances: Instance[] = [];
  try {
    service = await client.getService(target.grid, target.name);
    instances = await client.listInstances(target.grid, target.name);
  } catch (e) {
    if (!isApiError(e, 'SERVICE_NOT_FOUND') && !(isApiError(e) && e.status === 404)) throw e;
    service = null;
    instances = [];
  }
  return { ...target, service, instances, ...targetState(target, service, instances) };
}

/** Converged or failed, by the rollout's update status when the target names one (else by notConvergedBecause). */
function targetState(target: ConvergenceTarget, service: Service | null, instances: readonly Instance[]): { converged: boolean; failed?: string; degraded?: string } {
  if (target.replacing) return { converged: service !== null && replacementDone(target.replacing, instances) === null };
  if (target.rollout) {
    const outcome = rolloutOutcome(target.rollout, service);
    if (outcome.state === 'done') return { converged: true };
    if (outcome.state === 'degraded') return { converged: true, degraded: outcome.message };
    if (outcome.state === 'failed') return { converged: false, failed: outcome.message };
    if (outcome.state === 'pending') return { converged: false };
  }
  return { converged: isConverged(target.goal, service, instances) };
}

/** Why the target is not there yet, for the timeout message. */
export function waitingFor(p: ServiceProgress): string {
  if (p.replacing) return replacementDone(p.replacing, p.instances) ?? 'done';
  if (p.rollout) {
    const outcome = rolloutOutcome(p.rollout, p.service);
    if (outcome.state === 'pending') return outcome.why;
  }
  return notConvergedBecause(p.goal, p.service, p.instances) ?? 'done';
}

function describeMissing(p: ServiceProgress): string {
  const why = waitingFor(p);
  return `${p.name} to be ${p.goal === 'removed' ? 'removed' : p.goal} (${why})`;
}

function key(grid: string, name: string): string {
  return `${grid}/${name}`;
}
