import type Database from 'better-sqlite3';
import type { Disposable, Logger } from '../lib/index.js';
import { RequestInvalidError, RevisionCompactedError } from '../model/index.js';
import { CHANGES_TABLE, fillChangeJson } from './change-rows.js';
import { parseFrozen } from './deep-freeze.js';
import type { WatchEvent, WatchListener, WatchOptions } from './store.js';
import type { RowCapture, RowChange } from './row-capture.js';
import { WatchHub } from './watch-hub.js';

const REPLAY_BATCH = 500;

type ChangeRow = { revision: number; kind: WatchEvent['kind']; op: WatchEvent['op']; key: string; json: string };

/**
 * The store-wide revision, the change history (`changes` table) and the watchers, in one place.
 *
 * Invariants: every put or delete gets its own revision, strictly increasing and without gaps; a change
 * row is written in the same transaction as the data it describes; watchers see exactly the committed
 * changes, in revision order, each once. History is trimmed to the newest `historyRevisions` (in steps
 * of a tenth, so trimming is not paid on every write), never below what a replaying watcher still needs.
 */
export class ChangeLog {
  private readonly hub: WatchHub;
  private readonly readMeta: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly insertChange: Database.Statement;
  private readonly readChanges: Database.Statement;
  private readonly trimChanges: Database.Statement;
  private readonly dropChangesAbove: Database.Statement;
  private readonly oldestChange: Database.Statement;
  /** Last committed revision, and the newest revision trimmed from the history. */
  private rev = 0;
  private rolledBack = 0;
  private compacted = 0;
  /** Changes of the transaction in progress, published after its commit. */
  private pending: WatchEvent[] = [];
  /** Replication (docs/control-plane.md): the writer hands each commit's rows on; a replica refuses writes. */
  private replication: { readonly capture: RowCapture; readonly onCommit?: (rows: readonly RowChange[]) => void; readonly readOnly?: () => Error | undefined } | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly options: { readonly historyRevisions: number; readonly logger: Logger },
  ) {
    this.readMeta = db.prepare(`SELECT key, value FROM meta`);
    this.setMeta = db.prepare(`UPDATE meta SET value = ? WHERE key = ?`);
    this.insertChange = db.prepare(`INSERT INTO changes (revision, kind, op, key, json) VALUES (?, ?, ?, ?, ?)`);
    this.readChanges = db.prepare(`SELECT revision, kind, op, key, json FROM changes WHERE revision > ? ORDER BY revision LIMIT ?`);
    this.trimChanges = db.prepare(`DELETE FROM changes WHERE revision <= ?`);
    this.dropChangesAbove = db.prepare(`DELETE FROM changes WHERE revision > ?`);
    this.oldestChange = db.prepare(`SELECT MIN(revision) AS oldest FROM changes`);
    this.hub = new WatchHub((error, event) =>
      options.logger.error({ err: error, revision: event.revision, kind: event.kind, key: event.key }, 'store watch listener threw; it stays subscribed'),
    );
    this.loadMeta();
  }

  get revision(): number {
    return this.rev;
  }

  /** How many transactions of this connection rolled back (their revisions are given out again): caches keyed by revision reset on a change. */
  get rollbacks(): number {
    return this.rolledBack;
  }

  /** True while the store's writes are replicated (its writers then note the rows of self-noted tables). */
  get replicating(): boolean {
    return this.replication !== undefined;
  }

  /**
   * Notes a row of a self-noted table (RowCapture's `selfNoted`) that the transaction in progress wrote:
   * every column by name in the table's order, or null when deleted. Nothing when not replicating.
   */
  noteRow(table: string, key: readonly (string | number)[], row: Readonly<Record<string, unknown>> | null): void {
    this.replication?.capture.note({ table, key, row });
  }

  /** The revision for the next put or delete of the transaction in progress. */
  next(): number {
    return ++this.rev;
  }

  /**
   * Runs `fn` in one immediate transaction (the write lock is taken at BEGIN, so a concurrent writer
   * waits instead of failing half-way), then publishes its changes to the watchers. On error, nothing of
   * it remains and the revision is what it was.
   */
  write<T>(fn: () => T, options: { readonly dryRun?: boolean } = {}): T {
    const refused = this.replication?.readOnly?.();
    if (refused) throw refused;
    if (options.dryRun) return this.dryRun(fn);
    let rows: readonly RowChange[] = [];
    const run = this.db.transaction(() => {
      this.loadMeta(); // the file is the truth, should another connection have written
      const before = this.rev;
      const result = fn();
      if (this.rev !== before) {
        this.setMeta.run(this.rev, 'revision');
        this.compact();
      }
      if (this.replication) rows = this.replication.capture.take();
      return result;
    });
    this.pending = [];
    let result: T;
    try {
      result = run.immediate();
    } catch (error) {
      this.pending = [];
      this.replication?.capture.discard();
      this.rolledBack++;
      this.loadMeta();
      throw error;
    }
    const committed = this.pending;
    this.pending = [];
    if (rows.length > 0) this.replication?.onCommit?.(rows);
    this.hub.publish(committed);
    return result;
  }

  /**
   * Turns replication on: `onCommit` gets every committed write's rows (the writer), `readOnly` refuses
   * writes with its error while it returns one (a replica). Either may change later (a replica that wins
   * the election becomes the writer).
   */
  replicate(replication: { readonly capture: RowCapture; readonly onCommit?: (rows: readonly RowChange[]) => void; readonly readOnly?: () => Error | undefined }): void {
    this.replication = replication;
  }

  /**
   * A replica's catch-up: writes the writer's rows as they are, in one transaction, then hands watchers
   * the change-history rows among them (the writer's own revisions, so a watch resumes on any server).
   *
   * The local history stays whole: every revision from its oldest row to the store's revision has its
   * row. A batch whose history does not cover every revision it moves the store past (a load, with
   * revisions etcd's history ring no longer holds; a history row that cannot be filled) drops the local
   * history up to the newest revision missing, so a watch from before it is told to list again (as after
   * a compaction). Trimming follows the writer's `compacted`, as replicated.
   */
  applyReplicated(changes: readonly RowChange[]): void {
    const capture = this.replication?.capture;
    if (!capture) throw new Error('applyReplicated: replication is not on');
    const published = this.rev;
    // History rows come without the object their row carries (change-rows.ts): filled back here.
    const { rows } = fillChangeJson(changes);
    const received = new Set<number>();
    for (const c of rows) if (c.table === 'changes' && c.row !== null) received.add(Number((c.row as ChangeRow).revision));
    let missing = 0;
    try {
      this.db
        .transaction(() => {
          capture.apply(rows);
          this.loadMeta();
          missing = this.mendHistory(published, received);
        })
        .immediate();
    } catch (error) {
      this.rolledBack++;
      this.loadMeta();
      throw error;
    }
    // A hole above what watchers here were given: they would miss changes, so their watches end (onLost).
    if (missing > published && this.hub.size > 0) {
      this.options.logger.warn({ from: published, missing, watchers: this.hub.size }, 'the replicated history has a hole (a load past what etcd\'s history ring holds): the watches here end, and their watchers list again');
      this.hub.lose();
    }
    const events = rows
      .filter((c) => c.table === 'changes' && c.row !== null && Number((c.row as ChangeRow).revision) > Math.max(published, missing) && Number((c.row as ChangeRow).revision) <= this.rev)
      .map((c) => c.row as ChangeRow)
      .sort((a, b) => a.revision - b.revision)
      .map((r) => toWatchEvent(r.revision, r.kind, r.op, r.key, parseFrozen(r.json), r.json));
    this.hub.publish(events);
  }

  /**
   * Keeps the history whole after a replicated batch moved the store from revision `before` to this.rev
   * with the history rows `received`; returns the newest revision without a row (0: none), up to which
   * the history was dropped. Runs inside the batch's transaction.
   */
  private mendHistory(before: number, received: ReadonlySet<number>): number {
    const after = this.rev;
    // Further than the cluster's store (another cluster's data directory, or an etcd restored from an
    // older snapshot): nothing local is this history.
    const from = before > after ? 0 : before;
    // History past the store's revision is never kept: local rows of another history, or rows of a commit
    // a dead leader only half wrote (its history part landed, its revision counter did not). The next
    // leader gives those revisions out again.
    this.dropChangesAbove.run(after);
    let missing = 0;
    for (let r = after; r > from; r--) {
      if (!received.has(r)) {
        missing = r;
        break;
      }
    }
    // Revisions above `missing` all came in this batch (local rows among them were overwritten by it).
    if (missing > 0) this.trimChanges.run(missing);
    // The writer's trimming, as its `compacted` says (never below what a replaying watcher here still needs).
    const needed = this.hub.oldestNeeded();
    const upTo = needed === undefined ? this.compacted : Math.min(this.compacted, needed);
    if (upTo > 0) this.trimChanges.run(upTo);
    return missing;
  }

  /**
   * Runs `fn` as `write` does, then rolls the transaction back: what `fn` returns is what would have
   * been stored (Kubernetes' dryRun=All), and nothing of it remains — no row, no revision, no watch event.
   */
  private dryRun<T>(fn: () => T): T {
    let result: { value: T } | undefined;
    const rollback = new Error('dry run');
    const run = this.db.transaction(() => {
      this.loadMeta();
      result = { value: fn() };
      throw rollback;
    });
    this.pending = [];
    try {
      run.immediate();
    } catch (error) {
      if (error !== rollback) throw error;
    } finally {
      this.pending = [];
      this.replication?.capture.discard();
      this.rolledBack++;
      this.loadMeta();
    }
    return (result as { value: T }).value;
  }

  /**
   * Records a change of the transaction in progress; returns the frozen object watchers will get:
   * `json` parsed, or `made` when the caller has it (deep-frozen, and `json` is JSON.stringify of it:
   * it is then not parsed again).
   */
  record(kind: WatchEvent['kind'], op: WatchEvent['op'], key: string, json: string, revision: number, made?: WatchEvent['object']): WatchEvent['object'] {
    this.insertChange.run(revision, kind, op, key, json);
    // The history's rows are noted here, not by a trigger and a read-back (RowCapture's selfNoted).
    this.noteRow(CHANGES_TABLE, [revision], { revision, kind, op, key, json });
    const object = made ?? parseFrozen<WatchEvent['object']>(json);
    this.pending.push(toWatchEvent(revision, kind, op, key, object, json));
    return object;
  }

  /**
   * Replays history after `fromRevision` synchronously (inside this call), then delivers live changes.
   * @throws RevisionCompactedError, RequestInvalidError (not an integer >= 0)
   */
  watch(fromRevision: number, listener: WatchListener, options: WatchOptions = {}): Disposable {
    if (!Number.isInteger(fromRevision) || fromRevision < 0) throw new RequestInvalidError(`fromRevision: must be an integer >= 0, got ${fromRevision}`);
    const compacted = Math.max(this.compacted, this.historyStart());
    if (fromRevision < compacted) throw new RevisionCompactedError(fromRevision, compacted);
    return this.hub.add(
      fromRevision,
      listener,
      (after) => (this.readChanges.all(after, REPLAY_BATCH) as ChangeRow[]).map((r) => toWatchEvent(r.revision, r.kind, r.op, r.key, parseFrozen(r.json), r.json)),
      options.onLost,
    );
  }

  close(): void {
    this.hub.closeAll();
  }

  /**
   * The revision the history starts after: the oldest history row's revision - 1, or the store's
   * revision when there is none (a replica whose history was dropped at a load). Derived from the rows,
   * not kept: it holds across restarts.
   */
  private historyStart(): number {
    const { oldest } = this.oldestChange.get() as { oldest: number | null };
    return oldest === null ? this.rev : oldest - 1;
  }

  private loadMeta(): void {
    for (const { key, value } of this.readMeta.all() as { key: string; value: number }[]) {
      if (key === 'revision') this.rev = value;
      if (key === 'compacted') this.compacted = value;
    }
  }

  private compact(): void {
    const keep = this.options.historyRevisions;
    if (this.rev - this.compacted <= keep + Math.ceil(keep / 10)) return;
    let upTo = this.rev - keep;
    const needed = this.hub.oldestNeeded();
    if (needed !== undefined) upTo = Math.min(upTo, needed);
    if (upTo <= this.compacted) return;
    this.trimChanges.run(upTo);
    this.setMeta.run(upTo, 'compacted');
    this.compacted = upTo;
  }
}

/** Where a watch event keeps its object's stored JSON text (not enumerable: not part of its value). */
const OBJECT_JSON = Symbol('berth.objectJson');

/** A frozen watch event; `json` is its object's text as stored (JSON.stringify of it). */
function toWatchEvent(revision: number, kind: WatchEvent['kind'], op: WatchEvent['op'], key: string, object: WatchEvent['object'], json: string): WatchEvent {
  return Object.freeze(Object.defineProperty({ revision, kind, op, key, object }, OBJECT_JSON, { value: json })) as WatchEvent;
}

/**
 * A watch event as one line of JSON, equal to JSON.stringify(event): made from its object's stored
 * text, so that the object (1 KB for an instance) is not serialized again for the API's watch streams
 * (Kubernetes' watch cache keeps an object's serialized form likewise). Any other value is stringified.
 */
export function watchEventJson(event: WatchEvent): string {
  const json = (event as { [OBJECT_JSON]?: string })[OBJECT_JSON];
  if (json === undefined) return JSON.stringify(event);
  return `{"revision":${event.revision},"kind":${JSON.stringify(event.kind)},"op":${JSON.stringify(event.op)},"key":${JSON.stringify(event.key)},"object":${json}}`;
}
