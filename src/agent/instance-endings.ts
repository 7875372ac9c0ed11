import type { Instance, InstanceHealth, InstanceStatus } from '../model/index.js';
import { probeOutputLine, slotName } from '../model/index.js';
import type { ExitResult } from '../drivers/index.js';
import { SANDBOX_CONTAINER } from '../drivers/index.js';
import type { HealthTransition } from '../health/index.js';
import type { ContainerExit } from './container-exits.js';
import type { StatusEvent } from './status-reporter.js';

/*
 * How an instance's end reads: the terminal status the runner reports (complete, failed or shutdown)
 * and the event that goes with it, for each of the three ways an instance ends on this node — a
 * container exited on its own, the desired state asked for the stop, a liveness (or startup) probe
 * failed. Pure: the runner stops the containers first and hands in what that gave.
 */

/** What every terminal status carries: when it ended, how, and when it had started (StatusReporter.ended). */
export type EndedFields = Pick<InstanceStatus, 'finishedAt' | 'exitCode' | 'signal' | 'startedAt'>;

/** A terminal status to report, and its event. */
export interface Ending {
  readonly status: Omit<InstanceStatus, 'timestamp'>;
  readonly event: StatusEvent;
}

/**
 * How a container's exit reads: `exited with code 1 (SIGKILL): <the driver's message>`, after
 * `container <name> ` when the instance has several, or `sandbox ` for the sandbox.
 */
export function describeExit(instance: Instance, exit: ContainerExit): string {
  const { container, result } = exit;
  const how = `exited with code ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}`;
  const message = result.message ? `${how}: ${result.message}` : how;
  const which = container === SANDBOX_CONTAINER ? 'sandbox ' : instance.spec.containers.length > 1 ? `container ${container} ` : '';
  return `${which}${message}`;
}

/**
 * A container ended on its own (its siblings were stopped after it): complete for exit code 0, else
 * failed, with an `instance.exited` event (a warning unless the code is 0).
 * @param at.now the node's clock (epoch ms): the exit's `finishedAt` when the driver did not say when
 */
export function exitedEnding(instance: Instance, exit: ContainerExit, at: { readonly ended: EndedFields; readonly now: () => number }): Ending {
  const { result } = exit;
  const said = describeExit(instance, exit);
  return {
    status: { ...at.ended, state: result.exitCode === 0 ? 'complete' : 'failed', message: said, finishedAt: result.finishedAt ?? new Date(at.now()).toISOString() },
    event: {
      type: 'instance.exited',
      message: `${slotName(instance.service, instance.slot)} ${said}`,
      severity: result.exitCode === 0 ? 'info' : 'warning',
      data: { exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}) },
    },
  };
}

/**
 * The desired state asked for the stop (`reason`, the instance's desiredReason): shutdown, keeping the
 * drain that went before it, with an `instance.stopped` event.
 * @param stop.first the first exit result of the stopped containers, if any
 */
export function stoppedEnding(instance: Instance, reason: string, stop: { readonly ended: EndedFields; readonly first: ExitResult | undefined; readonly drain: InstanceStatus['drain'] }): Ending {
  const { first, drain } = stop;
  return {
    status: { ...stop.ended, state: 'shutdown', message: `stopped: ${reason}`, ...(drain ? { drain } : {}) },
    event: { type: 'instance.stopped', message: `${slotName(instance.service, instance.slot)} stopped (${reason})${first ? `, exit code ${first.exitCode}` : ''}` },
  };
}

/**
 * A liveness (or startup) probe failed and the containers were stopped: failed — a restart is a new
 * instance, which the restart policy makes. The last `health` stays in the status, so `why` can show
 * the probe and its output; the `instance.exited` event names the probe's kind.
 */
export function probeFailedEnding(instance: Instance, t: HealthTransition, stop: { readonly ended: EndedFields; readonly first: ExitResult | undefined; readonly health: InstanceHealth | undefined }): Ending {
  const { first, health } = stop;
  const p = t.probe;
  return {
    status: { ...stop.ended, state: 'failed', message: `${p.kind} probe failed: ${p.target}: ${probeOutputLine(p.lastOutput)}`, ...(health ? { health } : {}) },
    event: {
      type: 'instance.exited',
      message: `${slotName(instance.service, instance.slot)} stopped after its ${p.kind} probe failed${first ? `, exit code ${first.exitCode}${first.signal ? ` (${first.signal})` : ''}` : ''}`,
      severity: 'warning',
      data: { ...(first ? { exitCode: first.exitCode } : {}), ...(first?.signal ? { signal: first.signal } : {}), probe: p.kind },
    },
  };
}
