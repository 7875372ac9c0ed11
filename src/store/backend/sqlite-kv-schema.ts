import type Database from 'better-sqlite3';
import type { KeyValue, KvEvent } from './kv-backend.js';

/**
 * SqliteKv's tables: an embedded, single-process etcd.
 *
 * - `kv_meta`: `revision` (the store revision, 1 when empty as etcd), `compacted` (history is kept for
 *   revisions >= it), `lease_seq` (the last lease id handed out).
 * - `kv`: the current keys. Keys are BLOBs (UTF-8) so that order and prefix ranges are bytewise, as etcd's.
 * - `kv_changes`: one row per put/delete, with the key's previous state: the watch history, and what
 *   a read at a past revision is rebuilt from. (revision, seq) orders changes of one transaction.
 * - `kv_leases`: granted leases, with their TTL (s) and expiry (ms since the epoch).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO kv_meta (name, value) VALUES ('revision', 1), ('compacted', 0), ('lease_seq', 0);
CREATE TABLE IF NOT EXISTS kv (
  key BLOB PRIMARY KEY, value TEXT NOT NULL, create_revision INTEGER NOT NULL,
  mod_revision INTEGER NOT NULL, version INTEGER NOT NULL, lease TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease IS NOT NULL;
CREATE TABLE IF NOT EXISTS kv_changes (
  revision INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, key BLOB NOT NULL,
  value TEXT NOT NULL, create_revision INTEGER NOT NULL, version INTEGER NOT NULL, lease TEXT,
  prev_value TEXT, prev_create INTEGER, prev_mod INTEGER, prev_version INTEGER, prev_lease TEXT,
  PRIMARY KEY (revision, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_changes_by_key ON kv_changes (key, revision);
CREATE TABLE IF NOT EXISTS kv_leases (id TEXT PRIMARY KEY, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
`;

/**
 * Opens the pragmas and tables. WAL with synchronous=NORMAL (as store/sqlite-schema.ts): a committed
 * transaction survives a crash of the process (SIGKILL) — the WAL is in the OS's cache; a power loss
 * may lose the last transactions, never corrupt the file (sqlite.org/wal.html).
 */
export function openKvSchema(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  db.exec(SCHEMA);
}

export type KvRow = { key: Buffer; value: string; create_revision: number; mod_revision: number; version: number; lease: string | null };

export type ChangeRow = {
  revision: number;
  seq: number;
  type: 'put' | 'delete';
  key: Buffer;
  value: string;
  create_revision: number;
  version: number;
  lease: string | null;
  prev_value: string | null;
  prev_create: number | null;
  prev_mod: number | null;
  prev_version: number | null;
  prev_lease: string | null;
};

export function toKeyValue(row: KvRow): KeyValue {
  const kv: KeyValue = {
    key: row.key.toString('utf8'),
    value: row.value,
    createRevision: row.create_revision,
    modRevision: row.mod_revision,
    version: row.version,
    ...(row.lease !== null ? { lease: row.lease } : {}),
  };
  return Object.freeze(kv);
}

export function toKvEvent(row: ChangeRow): KvEvent {
  const kv = toKeyValue({ key: row.key, value: row.value, create_revision: row.create_revision, mod_revision: row.revision, version: row.version, lease: row.lease });
  const prevKv =
    row.prev_mod !== null
      ? toKeyValue({ key: row.key, value: row.prev_value ?? '', create_revision: row.prev_create ?? 0, mod_revision: row.prev_mod, version: row.prev_version ?? 0, lease: row.prev_lease })
      : undefined;
  return Object.freeze({ type: row.type, kv, ...(prevKv ? { prevKv } : {}) });
}

/** The prepared statements SqliteKv runs; `range*` take (start, end) as BLOBs, end exclusive. */
export function prepareKv(db: Database.Database) {
  return {
    meta: db.prepare<[string], { value: number }>(`SELECT value FROM kv_meta WHERE name = ?`),
    setMeta: db.prepare<[number, string]>(`UPDATE kv_meta SET value = ? WHERE name = ?`),
    get: db.prepare<[Buffer], KvRow>(`SELECT * FROM kv WHERE key = ?`),
    upsert: db.prepare<[Buffer, string, number, number, number, string | null]>(
      `INSERT INTO kv (key, value, create_revision, mod_revision, version, lease) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, create_revision = excluded.create_revision,
       mod_revision = excluded.mod_revision, version = excluded.version, lease = excluded.lease`,
    ),
    remove: db.prepare<[Buffer]>(`DELETE FROM kv WHERE key = ?`),
    range: db.prepare<[Buffer, Buffer, number], KvRow>(`SELECT * FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`),
    count: db.prepare<[Buffer, Buffer], { n: number }>(`SELECT count(*) AS n FROM kv WHERE key >= ? AND key < ?`),
    /**
     * The keys of [start, end) as they were at revision ?: today's rows of keys unchanged since, plus,
     * for keys changed since, the previous state recorded by their first change after that revision.
     */
    rangeAt: db.prepare<{ start: Buffer; end: Buffer; rev: number; limit: number }, KvRow>(`
      WITH first AS (SELECT key, min(revision) AS revision FROM kv_changes WHERE revision > $rev AND key >= $start AND key < $end GROUP BY key)
      SELECT key, value, create_revision, mod_revision, version, lease FROM kv
        WHERE key >= $start AND key < $end AND key NOT IN (SELECT key FROM first)
      UNION ALL
      SELECT c.key, c.prev_value, c.prev_create, c.prev_mod, c.prev_version, c.prev_lease FROM first f
        JOIN kv_changes c ON c.key = f.key AND c.revision = f.revision WHERE c.prev_mod IS NOT NULL
      ORDER BY key LIMIT $limit`),
    insertChange: db.prepare<[number, number, string, Buffer, string, number, number, string | null, string | null, number | null, number | null, number | null, string | null]>(
      `INSERT INTO kv_changes (revision, seq, type, key, value, create_revision, version, lease, prev_value, prev_create, prev_mod, prev_version, prev_lease)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    changesAfter: db.prepare<[number, number], ChangeRow>(`SELECT * FROM kv_changes WHERE revision > ? ORDER BY revision, seq LIMIT ?`),
    changesAt: db.prepare<[number], ChangeRow>(`SELECT * FROM kv_changes WHERE revision = ? ORDER BY seq`),
    trimChanges: db.prepare<[number]>(`DELETE FROM kv_changes WHERE revision < ?`),
    keysOfLease: db.prepare<[string], { key: Buffer }>(`SELECT key FROM kv WHERE lease = ? ORDER BY key`),
    lease: db.prepare<[string], { id: string; ttl: number; expires_at: number }>(`SELECT * FROM kv_leases WHERE id = ?`),
    insertLease: db.prepare<[string, number, number]>(`INSERT INTO kv_leases (id, ttl, expires_at) VALUES (?, ?, ?)`),
    renewLease: db.prepare<[number, string]>(`UPDATE kv_leases SET expires_at = ? WHERE id = ?`),
    removeLease: db.prepare<[string]>(`DELETE FROM kv_leases WHERE id = ?`),
    expiredLeases: db.prepare<[number], { id: string }>(`SELECT id FROM kv_leases WHERE expires_at <= ? ORDER BY expires_at`),
    promoteLeases: db.prepare<[number]>(`UPDATE kv_leases SET expires_at = max(expires_at, ? + ttl * 1000)`),
  };
}

export type KvStatements = ReturnType<typeof prepareKv>;
