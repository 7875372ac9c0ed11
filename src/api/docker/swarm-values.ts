import { parseDuration } from '../../lib/index.js';
import { invalidArgument } from './service-errors.js';

/*
 * Value conversions between the Swarm API's units and berth's spec (pure): durations (nanoseconds ↔
 * berth's "5s"/"1500ms" strings), CPUs (NanoCPUs ↔ CPUs), and the checks that refuse what berth would
 * not keep, naming the Swarm field.
 */

/** Refuses `field` with a 400 InvalidArgument that names it. */
export function refuse(field: string, message: string): never {
  throw invalidArgument(`${field}: ${message}`);
}

/**
 * A Swarm duration (Go time.Duration, nanoseconds) as berth stores it: `5s`, `1500ms`. undefined/null
 * stay undefined (the spec's default applies).
 * @throws DockerApiError 400 for a negative duration (swarmkit: "cannot be negative"), a non-number, or
 *   one with a part below a millisecond (berth keeps durations to the millisecond; keeping less would
 *   change what `inspect` shows)
 */
export function durationFromNanos(field: string, ns: unknown): string | undefined {
  if (ns === undefined || ns === null) return undefined;
  if (typeof ns !== 'number' || !Number.isFinite(ns) || !Number.isInteger(ns)) refuse(field, `must be a whole number of nanoseconds, got ${JSON.stringify(ns)}`);
  if (ns < 0) refuse(field, 'cannot be negative');
  if (ns % 1_000_000 !== 0) refuse(field, `${ns} ns: berth keeps durations to the millisecond (give a multiple of 1000000 ns)`);
  const ms = ns / 1_000_000;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** berth's stored duration (`5s`, `1m30s`, `1500ms`) in nanoseconds. */
export function nanosFromDuration(duration: string): number {
  return Math.round(parseDuration(duration) * 1_000_000);
}

/** Seconds (a probe's periodSeconds) in nanoseconds. */
export function nanosFromSeconds(seconds: number): number {
  return Math.round(seconds * 1_000_000_000);
}

/** NanoCPUs (CPUs × 1e9) as berth's CPUs; 0/absent = none. */
export function cpusFromNanos(field: string, nano: unknown): number | undefined {
  if (nano === undefined || nano === null || nano === 0) return undefined;
  if (typeof nano !== 'number' || !Number.isInteger(nano) || nano < 0) refuse(field, `must be a whole, positive number of 1e-9 CPUs, got ${JSON.stringify(nano)}`);
  return nano / 1e9;
}

/** berth's CPUs as NanoCPUs. */
export function nanosFromCpus(cpus: number): number {
  return Math.round(cpus * 1e9);
}

/** True for null, undefined, false, 0, "", [] and {} — Go's zero values, which mean "not set". */
export function isUnset(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as Record<string, unknown>).every(isUnset);
  return false;
}

/** Refuses `value` at `field` unless it is unset (isUnset): a Swarm feature berth does not have, where ignoring it would surprise. */
export function refuseIfSet(field: string, value: unknown, why: string): void {
  if (!isUnset(value)) refuse(field, why);
}
