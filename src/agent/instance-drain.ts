import type { Clock } from '../lib/index.js';
import { formatDuration, parseDuration } from '../lib/index.js';
import type { EventSeverity, EventType, Instance, InstanceDrain, InstanceStatus } from '../model/index.js';

/**
 * The data plane as the agent sees it when an instance is to stop (zero-downtime stop). app/ implements
 * it over the endpoints publisher and the proxy; without one (unit tests, a node with no data plane)
 * instances stop without a drain.
 */
export interface DataPlane {
  /**
   * Resolves once every table in use (DNS and proxy) was built from a store revision ≥
   * `instance.version` — the write that set its desired state to shutdown, after which it is no
   * endpoint — so no new connection or lookup reaches it. Rejects with `signal.reason` when aborted.
   */
  whenRemoved(instance: Instance, signal: AbortSignal): Promise<void>;
  /** Open proxied connections to the instance's address, over all its target ports. */
  connections(instance: Instance): number;
  /** Resolves when `connections(instance)` is 0 (at once if it is). Rejects with `signal.reason` when aborted. */
  whenDrained(instance: Instance, signal: AbortSignal): Promise<void>;
}

/** A drainTimeout absent from older instance records (InstanceSpec.drainTimeout): 10 s, the spec's default. */
const DEFAULT_DRAIN_TIMEOUT = '10s';

/** How a drain ended. */
export interface DrainOutcome {
  /**
   * drained: connections reached 0; timeout: drainTimeout passed first; exited: the instance ended on
   * its own; error: the data plane failed (`error` says how) — the stop goes ahead regardless.
   */
  readonly end: 'drained' | 'timeout' | 'exited' | 'error';
  readonly error?: string;
  /** Open connections when it ended. */
  readonly connections: number;
  /** Epoch ms the drain began and ended. */
  readonly since: number;
  readonly endedAt: number;
}

export interface DrainOptions {
  readonly clock: Clock;
  /** drainTimeout (ms): bounds the whole drain, barrier and connections together. */
  readonly timeoutMs: number;
  /** False for an instance that never was ready: no proxied connection can be open; only the barrier runs. */
  readonly waitForConnections: boolean;
  /** Aborted with reason 'exited' when a container exits (the drain ends) or 'detached' (berth stops; nothing more is reported). */
  readonly signal: AbortSignal;
  /** Called once, first, with the connections open as the drain begins (the runner reports `draining`). */
  readonly onStart: (connections: number, since: number) => void;
}

/**
 * The zero-downtime stop, before the stop signal: (1) report draining, (2) wait until the DNS and proxy
 * tables in use no longer have the instance, (3) wait for its open proxied connections to end — at most
 * `timeoutMs` for (2) and (3) together. No peer waits for (2): Kubernetes and Swarm signal the process
 * while the proxies may still send it new connections.
 * @returns undefined when `signal` was aborted as 'detached' (berth is stopping; the next berth drains again).
 */
export async function drainInstance(instance: Instance, dataPlane: DataPlane, options: DrainOptions): Promise<DrainOutcome | undefined> {
  const { clock } = options;
  const since = clock.now();
  options.onStart(dataPlane.connections(instance), since);
  const inner = new AbortController();
  const stopInner = (): void => inner.abort(options.signal.reason);
  options.signal.addEventListener('abort', stopInner, { once: true });
  if (options.signal.aborted) stopInner();
  let timedOut = false;
  let failure: string | undefined;
  const timer = clock.sleep(options.timeoutMs, inner.signal).then(
    () => {
      timedOut = true;
      inner.abort(new Error('drain timed out'));
    },
    () => undefined,
  );
  try {
    await dataPlane.whenRemoved(instance, inner.signal);
    if (options.waitForConnections) await dataPlane.whenDrained(instance, inner.signal);
  } catch (error) {
    if (!inner.signal.aborted) failure = error instanceof Error ? error.message : String(error);
  } finally {
    options.signal.removeEventListener('abort', stopInner);
    if (!inner.signal.aborted) inner.abort(new Error('drain finished'));
    await timer;
  }
  if (options.signal.aborted && options.signal.reason === 'detached') return undefined;
  const end = options.signal.aborted ? 'exited' : timedOut ? 'timeout' : failure !== undefined ? 'error' : 'drained';
  return { end, connections: dataPlane.connections(instance), since, endedAt: clock.now(), ...(failure !== undefined ? { error: failure } : {}) };
}

/**
 * The status `drain` and the instance.drained event of an ended drain: "web-3 drained in 312 ms",
 * "web-3 drain timed out after 10s with 2 open connection(s)", "web-3 exited while draining".
 */
export function drainReport(name: string, outcome: DrainOutcome, timeoutMs: number): { drain: InstanceDrain; message: string; severity: EventSeverity; data: Record<string, unknown> } {
  const ms = outcome.endedAt - outcome.since;
  const message =
    outcome.end === 'drained'
      ? `${name} drained in ${ms} ms`
      : outcome.end === 'timeout'
        ? `${name} drain timed out after ${formatDuration(timeoutMs)} with ${outcome.connections} open connection(s)`
        : outcome.end === 'exited'
          ? `${name} exited while draining`
          : `${name} drain failed (${outcome.error ?? 'unknown error'}); stopping it anyway`;
  return {
    drain: { since: new Date(outcome.since).toISOString(), connections: outcome.connections, endedAt: new Date(outcome.endedAt).toISOString(), timedOut: outcome.end === 'timeout' },
    message,
    severity: outcome.end === 'drained' ? 'info' : 'warning',
    data: { connections: outcome.connections, durationMs: ms, end: outcome.end },
  };
}

export interface DrainStepOptions {
  readonly clock: Clock;
  /** Aborted with 'exited' (a container exited: the drain ends) or 'detached' (berth stops). */
  readonly signal: AbortSignal;
  /** The slot name for messages ("web-3"). */
  readonly name: string;
  /** Reports the status with `drain` set, and its event. */
  report(drain: InstanceDrain, type: Extract<EventType, 'instance.draining' | 'instance.drained'>, message: string, severity: EventSeverity, data: Record<string, unknown>): void;
}

/**
 * The runner's drain step: drainInstance with the instance's drainTimeout (default 10 s), reported as
 * `status.drain` with the events instance.draining ("web-3 draining: out of endpoints, 2 open
 * connection(s)") and instance.drained. An instance that never was ready (not running yet, or its
 * readiness never passed) waits only for the barrier: no proxied connection can be open on it.
 * @param status the instance's last reported status
 * @returns false when detached (nothing more reported), true once the drain ended.
 */
export async function drainBeforeStop(instance: Instance, status: InstanceStatus, dataPlane: DataPlane, options: DrainStepOptions): Promise<boolean> {
  const timeoutMs = parseDuration(instance.spec.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT);
  const everReady = status.state === 'running' && (status.health === undefined || status.health.readySince !== undefined);
  const outcome = await drainInstance(instance, dataPlane, {
    clock: options.clock,
    timeoutMs,
    waitForConnections: everReady,
    signal: options.signal,
    onStart: (connections, since) =>
      options.report({ since: new Date(since).toISOString(), connections }, 'instance.draining', `${options.name} draining: out of endpoints, ${connections} open connection(s)`, 'info', { connections }),
  });
  if (!outcome) return false;
  const r = drainReport(options.name, outcome, timeoutMs);
  options.report(r.drain, 'instance.drained', r.message, r.severity, r.data);
  return true;
}
