import { DockerApiError } from './docker-errors.js';

/** A list request's filters: key → values (`{"name": {"web": true}}` → name → [web]). */
export type FilterArgs = ReadonlyMap<string, readonly string[]>;

/**
 * Parses the `filters` query parameter of a list endpoint as moby's `filters.FromJSON` does: the map
 * form `{"name": {"web": true}}` (what clients send since API 1.22) or the legacy slice form
 * `{"name": ["web"]}`; absent or empty is no filter. Then refuses keys not in `accepted`, as
 * `filters.Validate` (moby `daemon/internal/filters/parse.go`, errors.go).
 * @throws DockerApiError 400 `invalid filter` (not JSON of either form) or `invalid filter 'KEY'`
 */
export function parseFilters(raw: unknown, accepted: readonly string[]): FilterArgs {
  const out = new Map<string, string[]>();
  if (raw === undefined || raw === '') return out;
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DockerApiError(400, 'invalid filter');
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) values = value as string[];
    else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'boolean')) values = Object.keys(value);
    else throw new DockerApiError(400, 'invalid filter');
    out.set(key, values);
  }
  for (const key of out.keys()) if (!accepted.includes(key)) throw new DockerApiError(400, `invalid filter '${key}'`);
  return out;
}

/** True when `filters` has no values for `key`, or `test` holds for one of them (filters OR within a key, AND across keys). */
export function matchesAny(filters: FilterArgs, key: string, test: (value: string) => boolean): boolean {
  const values = filters.get(key);
  return values === undefined || values.length === 0 || values.some(test);
}
