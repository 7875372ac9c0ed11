import type { Service } from '../../model/index.js';
import type { FilterArgs } from './filter-args.js';
import { matchesAny, parseFilters } from './filter-args.js';

/*
 * `GET /services?filters=…` as the engine reads it (moby daemon/cluster/services.go GetServices,
 * swarmkit controlapi ListServices): filters `id` (prefix), `name` (prefix), `label` (`k` or `k=v`),
 * `mode` (replicated|global), `runtime` (container). Values of one filter are alternatives (any
 * matches), except labels, which must all hold; different filters must all hold.
 */

/** Filters the services list accepts (moby acceptedServiceFilters). */
const SERVICE_FILTERS = ['id', 'label', 'mode', 'name', 'runtime'];

/**
 * @throws DockerApiError 400 `invalid filter` for JSON that is neither filters form, `invalid filter 'x'`
 *   for a filter the services list does not know (filter-args.ts, moby filters.FromJSON and Validate)
 */
export function parseServiceFilters(raw: unknown): FilterArgs {
  return parseFilters(raw, SERVICE_FILTERS);
}

/** Whether a service passes every filter. */
export function serviceMatches(service: Service, filters: FilterArgs): boolean {
  const labels = service.spec.labels;
  const labelsHold = (filters.get('label') ?? []).every((item) => {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    return Object.hasOwn(labels, key) && (value === '' || labels[key] === value);
  });
  return (
    matchesAny(filters, 'id', (v) => service.id.startsWith(v)) &&
    matchesAny(filters, 'name', (v) => service.name.startsWith(v)) &&
    matchesAny(filters, 'mode', (v) => v === service.spec.mode) &&
    matchesAny(filters, 'runtime', (v) => v === 'container') &&
    labelsHold
  );
}
