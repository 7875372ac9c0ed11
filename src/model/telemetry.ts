import type { ServiceEvent } from './event.js';

/** One line a container wrote, as stored in its log file (CRI log format: time, stream, text). */
export interface LogLine {
  /** RFC 3339 with nanoseconds, e.g. 2026-11-21T15:04:05.123456789Z; sortable as a string. */
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  readonly instance: string;
  readonly slot: number;
  readonly container: string;
}

/** Resource use of one instance: the sum over its containers' whole process trees (from /proc). */
export interface InstanceStats {
  readonly instance: string;
  readonly slot: number;
  readonly time: string;
  /** Percent of one core over the sampling interval (200 = two full cores), as `docker stats`. */
  readonly cpuPercent: number;
  /** Resident set size, bytes. */
  readonly memoryBytes: number;
  /** Processes in the trees. */
  readonly processes: number;
}

/**
 * A service event in a log stream (GET …/logs?events=true, `berth service logs --events`): the
 * timeline merges these with the LogLines in time order. Told apart from a LogLine by `kind`.
 */
export interface EventLine {
  readonly kind: 'event';
  /** The event's time (RFC 3339, milliseconds). */
  readonly time: string;
  readonly event: ServiceEvent;
}

/** One entry of a service's timeline: a line a container wrote, or an event. */
export type TimelineLine = LogLine | EventLine;

/**
 * A node whose instances' logs or stats could not be read (its agent did not answer, or stopped
 * answering): a logs stream names it in a `{"warning": …}` line, a stats answer in `unreachable`, so
 * that what is missing is never silently left out (docs/node-telemetry.md).
 */
export interface UnreachableNode {
  readonly node: string;
  /** Why, in words: "connect ECONNREFUSED 10.0.0.2:10250", "no telemetry port registered", … */
  readonly reason: string;
  /** The ids of its instances that were asked for. */
  readonly instances: readonly string[];
}

/**
 * A line of a logs stream that is not a log line: `{"warning": {code, message, details}}`, written
 * where it became known (a node that did not answer, or whose stream broke). The typed client hands
 * it to `onWarning` instead of yielding it.
 */
export interface StreamWarning {
  readonly warning: { readonly code: string; readonly message: string; readonly details: Readonly<Record<string, unknown>> };
}
