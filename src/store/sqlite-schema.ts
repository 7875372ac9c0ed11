import type Database from 'better-sqlite3';
import { ACCESS_DDL } from './access-tables.js';
import { SECRET_DDL } from './secret-table.js';
import { SPEC_HISTORY_DDL } from './spec-history.js';

/*
 * Tables of the SQLite store. Every row keeps the whole object as JSON (the API shape, so reads are one
 * parse) plus the columns queries filter and sort on. `mod_revision` is the store revision of the row's
 * last write (etcd's mod_revision); `changes` is the watch history, trimmed to the newest N revisions.
 */
/** 2 added spec_history (created on open of a version-1 file); 3 grids and tokens; 4 secrets. */
const SCHEMA_VERSION = 4;

const DDL = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);

CREATE TABLE IF NOT EXISTS services (
  grid         TEXT NOT NULL,
  name         TEXT NOT NULL,
  json         TEXT NOT NULL,
  mod_revision INTEGER NOT NULL,
  PRIMARY KEY (grid, name)
);

CREATE TABLE IF NOT EXISTS instances (
  id               TEXT PRIMARY KEY,
  grid             TEXT NOT NULL,
  service          TEXT NOT NULL,
  node             TEXT NOT NULL,
  slot             INTEGER NOT NULL,
  state            TEXT NOT NULL,
  create_revision  INTEGER NOT NULL,
  json             TEXT NOT NULL,
  mod_revision     INTEGER NOT NULL
);
-- Lists come in this order, newest first within a slot, and read only these columns (InstanceCache):
-- the index covers them, so a list of 10,000 instances neither sorts nor reads a row's JSON.
DROP INDEX IF EXISTS instances_by_service;
CREATE INDEX IF NOT EXISTS instances_listing ON instances (grid, service, slot, create_revision DESC, id, mod_revision, state);
CREATE INDEX IF NOT EXISTS instances_by_node ON instances (node);

CREATE TABLE IF NOT EXISTS nodes (
  name         TEXT PRIMARY KEY,
  json         TEXT NOT NULL,
  mod_revision INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
  id      INTEGER PRIMARY KEY,
  grid    TEXT NOT NULL,
  service TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  json    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_service ON events (grid, service, id);

CREATE TABLE IF NOT EXISTS changes (
  revision INTEGER PRIMARY KEY,
  kind     TEXT NOT NULL,
  op       TEXT NOT NULL,
  key      TEXT NOT NULL,
  json     TEXT NOT NULL
);
`;

/**
 * Sets the pragmas and creates the tables. WAL with synchronous=NORMAL: a committed transaction survives
 * a crash of the process (the WAL is in the OS page cache), though not a power loss (SQLite's docs).
 * @throws Error when the file was written by a newer berth (unknown schema version).
 */
export function prepareDatabase(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`store schema version ${version} is newer than this berth understands (${SCHEMA_VERSION}); upgrade berth`);
  }
  db.exec(DDL);
  db.exec(SPEC_HISTORY_DDL);
  db.exec(ACCESS_DDL);
  db.exec(SECRET_DDL);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}
