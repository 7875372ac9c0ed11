import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../lib/index.js';

/*
 * Value parsers of flags that several commands share. commander calls them with each value as it is
 * read, so a bad one fails with "option '--x <n>' argument … is invalid" naming the flag (exit 2).
 */

/** A whole number ≥ 0. */
export function countValue(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}": expected a whole number (0 or more)`);
  return Number(value);
}

/** Seconds (`30`) or a duration (`500ms`, `1m30s`); kept in the form the spec stores (`30s`). */
export function durationValue(value: string): string {
  try {
    parseDuration(value);
  } catch {
    throw new InvalidArgumentError(`"${value}": expected seconds or a duration such as 500ms, 10s or 1m30s`);
  }
  const trimmed = value.trim();
  return /^\d+(\.\d+)?$/.test(trimmed) ? `${trimmed}s` : trimmed;
}

/** `key=value` into a record; repeatable. */
export function labelValue(value: string, previous: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`"${value}": expected key=value`);
  return { ...(previous ?? {}), [value.slice(0, eq)]: value.slice(eq + 1) };
}
