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
