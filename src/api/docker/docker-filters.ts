import { DockerApiError } from './docker-errors.js';

/** A parsed `filters` query: filter name → the values asked (any of them may match). */
export type DockerFilters = ReadonlyMap<string, readonly string[]>;

/**
 * Reads Docker's `filters` query parameter as moby's `filters.FromJSON` (api/types/filters/parse.go)
 * does: a JSON object of name → `{value: true}` (what the docker CLI sends) or name → `[value]` (the
 * older form docker-py sends); absent or empty = no filters. Then, as moby's `Validate`, refuses a
 * name the route does not take.
 * @throws DockerApiError 400 `invalid filter` for a value that is neither form, `invalid filter 'x'`
 *   for a name not in `accepted`.
 */
export function parseFilters(raw: unknown, accepted: readonly string[]): DockerFilters {
  const filters = new Map<string, string[]>();
  if (raw === undefined || raw === '') return filters;
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DockerApiError(400, 'invalid filter');
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) values = value as string[];
    else if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'boolean')) {
      values = Object.entries(value as Record<string, boolean>).filter(([, on]) => on).map(([v]) => v);
    } else throw new DockerApiError(400, 'invalid filter');
    filters.set(name, values);
  }
  for (const name of filters.keys()) if (!accepted.includes(name)) throw new DockerApiError(400, `invalid filter '${name}'`);
  return filters;
}

/**
 * Whether `labels` satisfy every `label` filter value, as moby's `filters.MatchKVList`: `key` asks
 * for the key, `key=value` for that value.
 */
export function matchesLabels(labels: Readonly<Record<string, string>>, wanted: readonly string[] | undefined): boolean {
  if (!wanted || wanted.length === 0) return true;
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return Object.hasOwn(labels, w);
    const key = w.slice(0, eq);
    return Object.hasOwn(labels, key) && labels[key] === w.slice(eq + 1);
  });
}
