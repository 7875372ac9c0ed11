import type { InstanceStatus, NewServiceEvent, ServiceCondition } from '../model/index.js';
import { InvalidTransitionError, canAdvance } from '../model/index.js';
import type { ChangeLog } from './change-log.js';
import { stableStringify } from './deep-freeze.js';
import type { EventTable } from './event-table.js';
import type { ObjectRows } from './object-rows.js';

/** What `setInstanceStatuses` did with each update. */
export interface StatusWriteResult {
  readonly written: readonly string[];
  /** Equal to the stored status: nothing written, no watch event. */
  readonly unchanged: readonly string[];
  /** No such instance (already deleted): skipped. */
  readonly unknown: readonly string[];
  /** Would move the state backwards: refused, logged at warn. */
  readonly refused: readonly InvalidTransitionError[];
}

/**
 * The observed-state writers of the SQLite store (swarmkit's Status writer, docs/store.md "Three
 * writers"): the agents' instance statuses, and the node data plane's service conditions. Neither moves
 * a service's version; an equal status or equal conditions write nothing (no watch event), so a loop
 * that reports the same thing does not wake itself. Every method runs inside the store's write
 * transaction (SqliteStore.write).
 */
export class StatusWriter {
  constructor(
    private readonly deps: {
      readonly rows: ObjectRows;
      readonly log: ChangeLog;
      readonly events: EventTable;
    },
  ) {}

  /**
   * Records observed statuses. An update that would move a state backwards (`canAdvance`) is refused and
   * the rest are still written (one stale report must not block the others); unknown ids are skipped.
   * `events` are recorded whatever happened to the updates. The caller logs the refusals.
   */
  instanceStatuses(updates: readonly { readonly id: string; readonly status: InstanceStatus }[], events: readonly NewServiceEvent[]): StatusWriteResult {
    const { rows } = this.deps;
    const written: string[] = [];
    const unchanged: string[] = [];
    const unknown: string[] = [];
    const refused: InvalidTransitionError[] = [];
    for (const { id, status } of updates) {
      const current = rows.storedInstance(id);
      if (!current) unknown.push(id);
      else if (!canAdvance(current.status.state, status.state)) refused.push(new InvalidTransitionError(id, current.status.state, status.state));
      else if (stableStringify(current.status) === stableStringify(status)) unchanged.push(id);
      else {
        rows.putStatus(current, status);
        written.push(id);
      }
    }
    this.deps.events.append(events);
    return { written, unchanged, unknown, refused };
  }

  /**
   * Replaces the data plane's conditions of a service (status.conditions, docs/networking.md); the
   * version stays. Equal conditions write nothing (and record no events); an unknown service is skipped.
   * @returns true when something was written.
   */
  serviceConditions(grid: string, name: string, conditions: readonly ServiceCondition[], events: readonly NewServiceEvent[]): boolean {
    const { rows } = this.deps;
    const current = rows.service(grid, name);
    if (!current || stableStringify(current.status.conditions ?? []) === stableStringify(conditions)) return false;
    const { conditions: _old, ...rest } = current.status;
    rows.putService({ ...current, status: conditions.length > 0 ? { ...rest, conditions } : rest }, this.deps.log.next());
    this.deps.events.append(events);
    return true;
  }
}
