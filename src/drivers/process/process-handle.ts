import { CodedError } from '../../lib/index.js';
import type { ContainerHandle } from '../driver.js';

/**
 * What the process driver persists for one container (plain JSON, see docs/drivers.md).
 * A pid alone is not an identity — pids are recycled (pid_max may be 32768) — so each pid travels with its
 * start time in clock ticks since boot (field 22 of /proc/PID/stat); the pair names one process for ever.
 */
export type ProcessHandle = {
  readonly driver: 'process';
  /** The container's main process; it leads its own process group, so `pgid === pid`. */
  readonly pid: number;
  readonly pgid: number;
  readonly startTicks: number;
  /** The berth-shim supervising the container; it writes `exitFile` when the container ends. */
  readonly shimPid: number;
  readonly shimStartTicks: number;
  /** Current CRI-format log; rotated files are `${logPath}.N`, a larger N being newer (never renamed). */
  readonly logPath: string;
  /** JSON `{ exitCode, signal, finishedAt }`, written atomically by the shim; absent while running. */
  readonly exitFile: string;
};

/**
 * Checks that a persisted handle is one of ours before any pid in it is signalled.
 * @throws CodedError `CONTAINER_HANDLE_INVALID` naming the first bad field.
 */
export function toProcessHandle(handle: ContainerHandle): ProcessHandle {
  const bad = (field: string): never => {
    throw new CodedError('CONTAINER_HANDLE_INVALID', `not a process-driver handle: bad "${field}"`, { field });
  };
  if (handle.driver !== 'process') bad('driver');
  // Never 0 or 1: kill(-1) signals every process we may signal, kill(0) our own group.
  for (const field of ['pid', 'pgid', 'shimPid'] as const) {
    const v = handle[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 1) bad(field);
  }
  for (const field of ['startTicks', 'shimStartTicks'] as const) {
    const v = handle[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) bad(field);
  }
  for (const field of ['logPath', 'exitFile'] as const) {
    const v = handle[field];
    if (typeof v !== 'string' || !v.startsWith('/')) bad(field);
  }
  return handle as ProcessHandle;
}
