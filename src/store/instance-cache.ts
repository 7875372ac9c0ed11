import type Database from 'better-sqlite3';
import type { Instance } from '../model/index.js';
import { parseFrozen } from './deep-freeze.js';

/**
 * Parsed, frozen instances by id and the revision they were stored at (`mod_revision`), so that a list
 * reads two small columns per row and parses only the rows that changed since they were last read.
 * A controller re-plans a service of 10,000 instances on every status batch: reading and hashing 10,000
 * JSON texts each time (FrozenJsonCache, keyed by text, and bounded below such a service's versions) was
 * most of a pass (bench/control-plane-scale). Kubernetes' informers keep the objects likewise.
 *
 * Invariant: an (id, revision) pair names one content. The store's revisions only grow, except when a
 * transaction rolls back (an error or a dry run), which gives its revisions out again: the cache is
 * then emptied (`epoch` changes on every rollback, see ChangeLog.rollbacks). Rows deleted from the table
 * are pruned once the cache holds twice as many entries as the table has rows.
 */
export class InstanceCache {
  private readonly entries = new Map<string, { readonly revision: number; readonly value: Instance }>();
  private readonly getJson: Database.Statement;
  private readonly getRevision: Database.Statement;
  private readonly countRows: Database.Statement;
  private readonly listIds: Database.Statement;
  private seenEpoch: number;
  private pruneAt = 1024;

  /** `epoch()` changes whenever a transaction of this connection rolled back. */
  constructor(
    db: Database.Database,
    private readonly epoch: () => number,
  ) {
    this.getJson = db.prepare(`SELECT json FROM instances WHERE id = ? AND mod_revision = ?`);
    this.getRevision = db.prepare(`SELECT mod_revision AS revision FROM instances WHERE id = ?`).pluck();
    this.countRows = db.prepare(`SELECT count(*) FROM instances`).pluck();
    this.listIds = db.prepare(`SELECT id FROM instances`).pluck();
    this.seenEpoch = epoch();
  }

  /** The instance `id` as stored now, or undefined. */
  get(id: string): Instance | undefined {
    const revision = this.getRevision.get(id) as number | undefined;
    return revision === undefined ? undefined : this.at(id, revision);
  }

  /**
   * The instance `id` stored at `revision` (a row just read with its mod_revision).
   * @throws Error when the row changed between the two reads (cannot happen on one connection's
   *   synchronous calls; said rather than answered wrongly)
   */
  at(id: string, revision: number): Instance {
    this.checkEpoch();
    const hit = this.entries.get(id);
    if (hit?.revision === revision) return hit.value;
    const json = this.getJson.get(id, revision) as { json: string } | undefined;
    if (!json) throw new Error(`instance ${id} is no longer at revision ${revision}`);
    const value = parseFrozen<Instance>(json.json);
    this.remember(id, revision, value);
    return value;
  }

  /** What a write just stored (the object watchers get), so that the next read does not parse it again. */
  remember(id: string, revision: number, value: Instance): void {
    this.checkEpoch();
    this.entries.set(id, { revision, value });
    if (this.entries.size > this.pruneAt) this.prune();
  }

  /** Entries held (tests: pruning keeps it bounded). */
  get size(): number {
    return this.entries.size;
  }

  private checkEpoch(): void {
    const epoch = this.epoch();
    if (epoch === this.seenEpoch) return;
    this.entries.clear();
    this.seenEpoch = epoch;
  }

  private prune(): void {
    const rows = this.countRows.get() as number;
    if (this.entries.size > 2 * rows) {
      const live = new Set(this.listIds.all() as string[]);
      for (const id of this.entries.keys()) if (!live.has(id)) this.entries.delete(id);
    }
    this.pruneAt = Math.max(1024, 2 * Math.max(rows, this.entries.size));
  }
}
