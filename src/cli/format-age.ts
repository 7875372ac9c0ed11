/**
 * How long ago `time` was, as kubectl's AGE column: 45s, 12m, 3h, 5d (one unit, rounded down).
 * `now` is milliseconds since the epoch; a time in the future (clock skew) shows as 0s.
 */
export function formatAge(time: string | undefined, now: number): string {
  if (!time) return '-';
  const then = Date.parse(time);
  if (Number.isNaN(then)) return '-';
  const seconds = Math.max(0, Math.floor((now - then) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}
