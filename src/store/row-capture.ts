import type Database from 'better-sqlite3';

/*
 * Row-level change capture of the SQLite store, for replicating it through etcd (docs/control-plane.md).
 *
 * The domain rules stay where they are — SQL in SqliteStore, written once — and what a write changed is
 * read back as rows: temporary triggers (they live in the connection, never in the file) note the key
 * of every row inserted, updated or deleted in any table; `take()`, inside the same transaction, turns
 * those keys into the rows as they now are (or `null`: deleted). A replica applies such rows as they
 * are, with no rule of its own, so it holds exactly the writer's tables — its change history (`changes`)
 * included, so watch revisions are the same on every server.
 */

/** One row after a write: `row` is every column by name, or null when the row is gone. */
export interface RowChange {
  readonly table: string;
  /** The primary key's values, in the key's column order. */
  readonly key: readonly (string | number)[];
  readonly row: Readonly<Record<string, unknown>> | null;
}

interface TableInfo {
  readonly name: string;
  readonly columns: readonly string[];
  readonly primaryKey: readonly string[];
  readonly select: Database.Statement;
  readonly upsert: Database.Statement;
  readonly remove: Database.Statement;
  readonly keys: Database.Statement;
}

const LOG = 'temp.berth_row_changes';

/** SQLite identifiers of the store's own tables are plain words; anything else is refused rather than quoted. */
function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`row capture: unexpected identifier ${JSON.stringify(name)}`);
  return name;
}

export class RowCapture {
  private readonly tables = new Map<string, TableInfo>();
  private readonly readLog: Database.Statement;
  private readonly clearLog: Database.Statement;
  /** While applying a replica's rows, the triggers' notes are dropped, not taken. */
  private applying = false;
  /** Rows of `selfNoted` tables noted by their writer in the transaction in progress (`note`). */
  private notes: RowChange[] = [];

  /**
   * Installs the triggers on every table of `db` (call after the schema exists), except the
   * `selfNoted` tables: their writer notes each row it inserts (`note`), as it has it at hand. The
   * change history is one: a row per revision, never updated, whose read-back was a third of a status
   * write's capture (bench/control-plane-scale). Deletes of a self-noted table are not captured.
   */
  constructor(
    private readonly db: Database.Database,
    options: { readonly selfNoted?: readonly string[] } = {},
  ) {
    const selfNoted = new Set(options.selfNoted ?? []);
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS berth_row_changes (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, key TEXT NOT NULL)`);
    const names = (db.prepare(`SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => ident(r.name));
    for (const name of names) {
      const info = db.prepare(`PRAGMA main.table_info(${name})`).all() as { name: string; pk: number }[];
      const columns = info.map((c) => ident(c.name));
      const primaryKey = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      if (primaryKey.length === 0) throw new Error(`row capture: table ${name} has no primary key`);
      const keyOf = (row: 'NEW' | 'OLD'): string => `json_array(${primaryKey.map((c) => `${row}.${c}`).join(', ')})`;
      if (!selfNoted.has(name))
        db.exec(`
        CREATE TEMP TRIGGER IF NOT EXISTS berth_rc_${name}_i AFTER INSERT ON main.${name} BEGIN INSERT INTO ${LOG} (tbl, key) VALUES ('${name}', ${keyOf('NEW')}); END;
        CREATE TEMP TRIGGER IF NOT EXISTS berth_rc_${name}_u AFTER UPDATE ON main.${name} BEGIN INSERT INTO ${LOG} (tbl, key) VALUES ('${name}', ${keyOf('OLD')}), ('${name}', ${keyOf('NEW')}); END;
        CREATE TEMP TRIGGER IF NOT EXISTS berth_rc_${name}_d AFTER DELETE ON main.${name} BEGIN INSERT INTO ${LOG} (tbl, key) VALUES ('${name}', ${keyOf('OLD')}); END;
      `);
      const where = primaryKey.map((c) => `${c} = ?`).join(' AND ');
      this.tables.set(name, {
        name,
        columns,
        primaryKey,
        select: db.prepare(`SELECT * FROM main.${name} WHERE ${where}`),
        upsert: db.prepare(`INSERT OR REPLACE INTO main.${name} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`),
        remove: db.prepare(`DELETE FROM main.${name} WHERE ${where}`),
        keys: db.prepare(`SELECT ${primaryKey.join(', ')} FROM main.${name}`).raw(true),
      });
    }
    this.readLog = db.prepare(`SELECT tbl, key FROM ${LOG} GROUP BY tbl, key ORDER BY MIN(seq)`);
    this.clearLog = db.prepare(`DELETE FROM ${LOG}`);
  }

  /** Tables by name, sorted. */
  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /**
   * A row just inserted in a self-noted table, every column by name in the table's column order (as
   * `SELECT *` gives it). Call inside the transaction that wrote it; a transaction that does not commit
   * must `discard()` its notes.
   */
  note(change: RowChange): void {
    if (!this.applying) this.notes.push(change);
  }

  /** Forgets the self-noted rows of a transaction that rolled back (the triggers' notes roll back with it). */
  discard(): void {
    this.notes = [];
  }

  /** The rows the transaction in progress changed, as they now are; clears the notes. Call inside the transaction. */
  take(): RowChange[] {
    const noted = this.readLog.all() as { tbl: string; key: string }[];
    this.clearLog.run();
    const own = this.notes;
    this.notes = [];
    if (this.applying) return [];
    const rows = noted.map(({ tbl, key }): RowChange => {
      const table = this.tables.get(tbl) as TableInfo;
      const values = JSON.parse(key) as (string | number)[];
      const row = table.select.get(...values) as Record<string, unknown> | undefined;
      return { table: tbl, key: values, row: row ?? null };
    });
    return own.length === 0 ? rows : rows.concat(own);
  }

  /**
   * Writes rows as they are (a replica catching up with the writer). Call inside a transaction.
   * @throws Error for a table this store does not have (a newer berth wrote it) or a row missing a column
   */
  apply(changes: readonly RowChange[]): void {
    this.applying = true;
    try {
      for (const change of changes) {
        const table = this.tables.get(change.table);
        if (!table) throw new Error(`replicated row of unknown table "${change.table}": this berth is older than the one that wrote it`);
        if (change.row === null) table.remove.run(...change.key);
        else table.upsert.run(Object.fromEntries(table.columns.map((c) => [c, (change.row as Record<string, unknown>)[c] ?? null])));
      }
      this.clearLog.run();
      this.notes = [];
    } finally {
      this.applying = false;
    }
  }

  /** Every row of every table, as puts (a new cluster's first write: the rows the schema itself makes). */
  allRows(): RowChange[] {
    const out: RowChange[] = [];
    for (const table of this.tables.values()) {
      for (const row of this.db.prepare(`SELECT * FROM main.${table.name}`).all() as Record<string, unknown>[]) {
        out.push({ table: table.name, key: table.primaryKey.map((c) => row[c] as string | number), row });
      }
    }
    return out;
  }

  /** Every row key of every table (for a full resync: what is here but no longer in the source is deleted). */
  allKeys(): { table: string; key: (string | number)[] }[] {
    const out: { table: string; key: (string | number)[] }[] = [];
    for (const table of this.tables.values()) for (const key of table.keys.all() as (string | number)[][]) out.push({ table: table.name, key });
    return out;
  }
}
