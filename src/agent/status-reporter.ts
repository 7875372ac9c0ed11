import type { ContainerStatus, Instance, InstanceStatus, NewServiceEvent } from '../model/index.js';
import type { ExitResult } from '../drivers/index.js';
import type { RunningContainer } from './container-start.js';
import type { RunnerContext } from './runner-context.js';

/** The event that goes with a status report; `message` defaults to the status's, `severity` to info. */
export interface StatusEvent {
  readonly type: NewServiceEvent['type'];
  readonly message?: string;
  readonly severity?: NewServiceEvent['severity'];
  readonly data?: Record<string, unknown>;
}

/**
 * Reports one instance's observed status (the agent's one field of the three writers, swarmkit) through
 * `RunnerContext.report`, each stamped with the node's time, and keeps the last one reported: the
 * runner's step machine moves on from its `state`, since the store's copy lags behind (reports are
 * batched) and our own reports come back to the runner later.
 */
export class StatusReporter {
  #last: InstanceStatus;

  /**
   * @param initial the status the instance's record carried when the runner was made
   * @param instance the latest record (the runner's `update` changes it), for the events' names
   */
  constructor(
    initial: InstanceStatus,
    private readonly instance: () => Instance,
    private readonly ctx: Pick<RunnerContext, 'now' | 'report'>,
  ) {
    this.#last = initial;
  }

  /** The last status reported (or the record's, before the first report). */
  get last(): InstanceStatus {
    return this.#last;
  }

  /** The last status without its timestamp: the base of a report that changes a field or two. */
  unstamped(): Omit<InstanceStatus, 'timestamp'> {
    const { timestamp: _timestamp, ...rest } = this.#last;
    return rest;
  }

  /** Reports `partial` as the instance's status, with one event of it when `event` is given. */
  report(partial: Omit<InstanceStatus, 'timestamp'>, event?: StatusEvent): void {
    const inst = this.instance();
    const events: NewServiceEvent[] = event
      ? [{ grid: inst.grid, service: inst.service, type: event.type, severity: event.severity ?? 'info', message: event.message ?? partial.message, instance: inst.id, slot: inst.slot, ...(event.data ? { data: event.data } : {}) }]
      : [];
    this.reportEvents(partial, events);
  }

  /** Reports `partial` as the instance's status together with `events` (none, one or several). */
  reportEvents(partial: Omit<InstanceStatus, 'timestamp'>, events: readonly NewServiceEvent[]): void {
    const status: InstanceStatus = { ...partial, timestamp: new Date(this.ctx.now()).toISOString() };
    this.#last = status;
    this.ctx.report(this.instance().id, status, events);
  }

  /** What every terminal status carries: when it ended, how (`exit`, when known), and when it had started. */
  ended(exit: ExitResult | undefined): Pick<InstanceStatus, 'finishedAt' | 'exitCode' | 'signal' | 'startedAt'> {
    return {
      finishedAt: new Date(this.ctx.now()).toISOString(),
      ...(exit ? { exitCode: exit.exitCode } : {}),
      ...(exit?.signal ? { signal: exit.signal } : {}),
      ...(this.#last.startedAt ? { startedAt: this.#last.startedAt } : {}),
    };
  }
}

/** A running container as the instance's status lists it (`containers`). */
export function runningContainerStatus(c: RunningContainer): ContainerStatus {
  return { name: c.name, state: 'running', startedAt: c.startedAt, ...(c.pid !== undefined ? { pid: c.pid } : {}) };
}
