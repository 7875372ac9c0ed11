import { INSTANCE_STATES, isTerminal } from '../model/index.js';
import type { InstanceFilter } from './store.js';

const TERMINAL_STATES = INSTANCE_STATES.filter(isTerminal);

/**
 * The query of `listInstances(filter)`: each matching row's id and revision (`mod_revision`), ordered by
 * grid, service, slot ascending, then newest first within a slot — the order of the covering index
 * `instances_listing` (sqlite-schema.ts), so the list neither sorts nor reads JSON; the InstanceCache
 * then parses only the rows whose revision changed. `active` leaves out instances in a terminal state.
 * The SQL text depends only on which filter fields are set (a handful of texts, each prepared once).
 */
export function instanceListing(filter: InstanceFilter): { readonly sql: string; readonly args: readonly unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  for (const column of ['grid', 'service', 'node'] as const) {
    const value = filter[column];
    if (value !== undefined) {
      where.push(`${column} = ?`);
      args.push(value);
    }
  }
  if (filter.active) where.push(`state NOT IN (${TERMINAL_STATES.map((s) => `'${s}'`).join(', ')})`);
  const sql = `SELECT id, mod_revision AS revision FROM instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY grid, service, slot, create_revision DESC`;
  return { sql, args };
}
