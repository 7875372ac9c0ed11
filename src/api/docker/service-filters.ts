import type { Service } from '../../model/index.js';
import { DockerApiError } from './docker-errors.js';

/*
 * `GET /services?filters=…` as the engine reads it (moby `api/types/filters`, daemon/cluster/services.go
 * GetServices, swarmkit controlapi ListServices): the JSON `{"name":{"web":true}}` or the old
 * `{"name":["web"]}`; filters `id` (prefix), `name` (prefix), `label` (`k` or `k=v`), `mode`
 * (replicated|global), `runtime` (container). Values of one filter are alternatives (any matches),
 * except labels, which must all hold; different filters must all hold.
 */

/** Filter name → its values. */
export type ServiceFilters = ReadonlyMap<string, readonly string[]>;

const ACCEPTED = new Set(['id', 'label', 'mode', 'name', 'runtime']);

/**
 * @throws DockerApiError 400 `invalid filter …` for JSON that is neither form, or a filter the services
 *   list does not know (moby filters.Validate)
 */
export function parseServiceFilters(raw: string | undefined): ServiceFilters {
  const out = new Map<string, string[]>();
  if (raw === undefined || raw.trim() === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new DockerApiError(400, `invalid filter: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DockerApiError(400, `invalid filter: ${raw}`);
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) values = value as string[];
    else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'boolean')) {
      values = Object.entries(value as Record<string, boolean>).filter(([, on]) => on).map(([v]) => v);
    } else throw new DockerApiError(400, `invalid filter: ${raw}`);
    if (!ACCEPTED.has(key)) throw new DockerApiError(400, `invalid filter '${key}'`);
    out.set(key, values);
  }
  return out;
}

/** Whether a service passes every filter. */
export function serviceMatches(service: Service, filters: ServiceFilters): boolean {
  const anyOf = (key: string, test: (v: string) => boolean): boolean => {
    const values = filters.get(key);
    return values === undefined || values.length === 0 || values.some(test);
  };
  const labels = service.spec.labels;
  const labelsHold = (filters.get('label') ?? []).every((item) => {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    return key in labels && (value === '' || labels[key] === value);
  });
  return (
    anyOf('id', (v) => service.id.startsWith(v)) &&
    anyOf('name', (v) => service.name.startsWith(v)) &&
    anyOf('mode', (v) => v === service.spec.mode) &&
    anyOf('runtime', (v) => v === 'container') &&
    labelsHold
  );
}
