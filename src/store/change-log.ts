import type Database from 'better-sqlite3';
import type { Disposable, Logger } from '../lib/index.js';
import { RequestInvalidError, RevisionCompactedError } from '../model/index.js';
import { fillChangeJson } from './change-rows.js';
import { parseFrozen } from './deep-freeze.js';
import type { WatchEvent, WatchListener } from './store.js';
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
  /** Last committed revision, and the newest revision trimmed from the history. */
  private rev = 0;
  private rolledBack = 0;
  /** A replica's history is incomplete up to here (rows it loaded whose object had changed since: change-rows.ts). */
  private historyFloor = 0;
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
   */
  applyReplicated(changes: readonly RowChange[]): void {
    const capture = this.replication?.capture;
    if (!capture) throw new Error('applyReplicated: replication is not on');
    const published = this.rev;
    // History rows come without the object their row carries (change-rows.ts): filled back here.
    const { rows, unfilledUpTo } = fillChangeJson(changes);
    try {
      this.db.transaction(() => capture.apply(rows)).immediate();
    } catch (error) {
      this.rolledBack++;
      throw error;
    }
    if (unfilledUpTo > this.historyFloor) this.historyFloor = unfilledUpTo;
    this.loadMeta();
    const events = rows
      .filter((c) => c.table === 'changes' && c.row !== null && Number((c.row as ChangeRow).revision) > published)
      .map((c) => c.row as ChangeRow)
      .sort((a, b) => a.revision - b.revision)
      .map((r) => toWatchEvent(r.revision, r.kind, r.op, r.key, parseFrozen(r.json)));
    this.hub.publish(events);
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
      this.rolledBack++;
      this.loadMeta();
    }
    return (result as { value: T }).value;
  }

  /** Records a change of the transaction in progress; returns the frozen object watchers will get. */
  record(kind: WatchEvent['kind'], op: WatchEvent['op'], key: string, json: string, revision: number): WatchEvent['object'] {
    this.insertChange.run(revision, kind, op, key, json);
    const object = parseFrozen<WatchEvent['object']>(json);
    this.pending.push(toWatchEvent(revision, kind, op, key, object));
    return object;
  }

  /**
   * Replays history after `fromRevision` synchronously (inside this call), then delivers live changes.
   * @throws RevisionCompactedError, RequestInvalidError (not an integer >= 0)
   */
  watch(fromRevision: number, listener: WatchListener): Disposable {
    if (!Number.isInteger(fromRevision) || fromRevision < 0) throw new RequestInvalidError(`fromRevision: must be an integer >= 0, got ${fromRevision}`);
    const compacted = Math.max(this.compacted, this.historyFloor);
    if (fromRevision < compacted) throw new RevisionCompactedError(fromRevision, compacted);
    return this.hub.add(fromRevision, listener, (after) =>
      (this.readChanges.all(after, REPLAY_BATCH) as ChangeRow[]).map((r) => toWatchEvent(r.revision, r.kind, r.op, r.key, parseFrozen(r.json))),
    );
  }

  close(): void {
    this.hub.closeAll();
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

function toWatchEvent(revision: number, kind: WatchEvent['kind'], op: WatchEvent['op'], key: string, object: WatchEvent['object']): WatchEvent {
  return Object.freeze({ revision, kind, op, key, object }) as WatchEvent;
}
