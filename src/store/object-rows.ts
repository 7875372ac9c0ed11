import type Database from 'better-sqlite3';
import type { Instance, InstanceStatus, Service } from '../model/index.js';
import { serviceKey } from '../model/index.js';
import type { ChangeLog } from './change-log.js';
import { deepFreeze } from './deep-freeze.js';
import type { InstanceCache } from './instance-cache.js';
import type { JsonRow, Statements } from './sqlite-statements.js';

/**
 * The instances table: written only through ObjectRows, which notes each row it writes for replication,
 * so that no trigger notes them and no read-back reads them again (RowCapture's `selfNoted`).
 */
export const INSTANCES_TABLE = 'instances';

/**
 * The service and instance rows of the SQLite store as its write transactions read and write them.
 *
 * A read for modification gives plain (unfrozen) JSON, never handed out. A put stores the object's JSON
 * with its revision, records the change in the ChangeLog (the watch history, in the same transaction)
 * and returns the frozen object watchers get; a put instance is handed to the InstanceCache. Call the
 * writes only inside the store's `write` (ChangeLog.write), so that a write that throws leaves nothing.
 */
export class ObjectRows {
  constructor(
    /** The store's fixed statements, for the writers' other rows (inserts and deletes). */
    readonly stmt: Statements,
    private readonly log: ChangeLog,
    private readonly instances: InstanceCache,
  ) {}

  /** Reads a row for modification: plain (unfrozen) JSON, never handed out. */
  read<T>(statement: Database.Statement, ...args: unknown[]): T | undefined {
    const row = statement.get(...args) as JsonRow | undefined;
    return row ? (JSON.parse(row.json) as T) : undefined;
  }

  /** The service `grid/name` for modification, or undefined. */
  service(grid: string, name: string): Service | undefined {
    return this.read<Service>(this.stmt.getService, grid, name);
  }

  /** The instance `id` for modification, or undefined. */
  instance(id: string): Instance | undefined {
    return this.read<Instance>(this.stmt.getInstance, id);
  }

  /**
   * The instance `id` as stored, frozen and shared (the InstanceCache's object: parsed once per
   * revision), or undefined. For writers that derive a new object from it (`{ ...current, status }`)
   * and never change it: an agent's status report then parses no row.
   */
  storedInstance(id: string): Instance | undefined {
    return this.instances.get(id);
  }

  /**
   * Stores `service` at `revision` (a revision of the transaction in progress, ChangeLog.next). The
   * caller sets `service.version`: intent writes move it, status writes keep it (store.ts, three writers).
   */
  putService(service: Service, revision: number): Service {
    const json = JSON.stringify(service);
    this.stmt.putService.run(service.grid, service.name, json, revision);
    return this.log.record('service', 'put', serviceKey(service.grid, service.name), json, revision) as Service;
  }

  /**
   * Stores `current` (as stored: frozen, JSON-shaped) with `status`, at a new revision: an agent's
   * report. Only the status is copied through JSON; the rest is shared with `current`, and the stored
   * text is not parsed back (ChangeLog.record's `made`), which a status write of a 1 KB instance did.
   */
  putStatus(current: Instance, status: InstanceStatus): Instance {
    const revision = this.log.next();
    const stored = deepFreeze({ ...current, status: JSON.parse(JSON.stringify(status)) as InstanceStatus, version: revision });
    const json = JSON.stringify(stored);
    this.updateRow(stored.status.state, json, revision, stored.id);
    this.log.record('instance', 'put', stored.id, json, revision, stored);
    this.instances.remember(stored.id, revision, stored);
    return stored;
  }

  /** Stores `instance` at a new revision, which becomes its `version`. */
  putInstance(instance: Instance): Instance {
    const revision = this.log.next();
    const json = JSON.stringify({ ...instance, version: revision });
    this.updateRow(instance.status.state, json, revision, instance.id);
    const stored = this.log.record('instance', 'put', instance.id, json, revision) as Instance;
    this.instances.remember(instance.id, revision, stored);
    return stored;
  }

  /**
   * Inserts a new instance's row (state `new`, created and modified at `revision`). The instances table
   * is self-noted (INSTANCES_TABLE): every write of it goes through these methods, which note the row.
   */
  insertInstance(i: Pick<Instance, 'id' | 'grid' | 'service' | 'node' | 'slot'>, json: string, revision: number): void {
    this.stmt.insertInstance.run(i.id, i.grid, i.service, i.node, i.slot, 'new', revision, json, revision);
    // The row as SELECT * gives it: the table's columns in their order.
    this.log.noteRow(INSTANCES_TABLE, [i.id], { id: i.id, grid: i.grid, service: i.service, node: i.node, slot: i.slot, state: 'new', create_revision: revision, json, mod_revision: revision });
  }

  /** Deletes the instance row `id`; false when there was none. */
  deleteInstance(id: string): boolean {
    if (this.stmt.deleteInstance.run(id).changes === 0) return false;
    this.log.noteRow(INSTANCES_TABLE, [id], null);
    return true;
  }

  private updateRow(state: string, json: string, revision: number, id: string): void {
    if (!this.log.replicating) {
      this.stmt.updateInstance.run(state, json, revision, id);
      return;
    }
    // The columns it did not set come back (not the 1 KB json it has): the row, in the table's column order.
    const kept = this.stmt.updateInstanceReturning.get(state, json, revision, id) as { grid: string; service: string; node: string; slot: number; create_revision: number } | undefined;
    if (kept) this.log.noteRow(INSTANCES_TABLE, [id], { id, grid: kept.grid, service: kept.service, node: kept.node, slot: kept.slot, state, create_revision: kept.create_revision, json, mod_revision: revision });
  }
}
