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
