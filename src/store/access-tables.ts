import type Database from 'better-sqlite3';
import type { Grid, TokenInfo } from '../model/index.js';
import { DEFAULT_GRID, GridExistsError, GridNotEmptyError, GridNotFoundError, TokenNotFoundError } from '../model/index.js';
import type { StoredToken } from './store.js';

/** Grids and API tokens (schema version 3). */
export const ACCESS_DDL = `
CREATE TABLE IF NOT EXISTS grids (
  name TEXT PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  id   TEXT PRIMARY KEY,
  grid TEXT,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_by_grid ON tokens (grid);
`;

/**
 * Grids and tokens of the SQLite store. Writes run inside the store's write transaction; a token row
 * keeps only the SHA-256 of the token's secret. Opening a store creates the `default` grid and a grid
 * for every grid that services already use (stores written before grids were objects).
 */
export class AccessTables {
  private readonly getGridRow: Database.Statement;
  private readonly listGridRows: Database.Statement;
  private readonly putGrid: Database.Statement;
  private readonly dropGrid: Database.Statement;
  private readonly servicesOfGrid: Database.Statement;
  private readonly getTokenRow: Database.Statement;
  private readonly listTokenRows: Database.Statement;
  private readonly listTokenRowsOfGrid: Database.Statement;
  private readonly putToken: Database.Statement;
  private readonly dropToken: Database.Statement;
  private readonly dropTokensOfGrid: Database.Statement;

  constructor(db: Database.Database, nowIso: () => string) {
    this.getGridRow = db.prepare(`SELECT json FROM grids WHERE name = ?`);
    this.listGridRows = db.prepare(`SELECT json FROM grids ORDER BY name`);
    this.putGrid = db.prepare(`INSERT OR IGNORE INTO grids (name, json) VALUES (?, ?)`);
    this.dropGrid = db.prepare(`DELETE FROM grids WHERE name = ?`);
    this.servicesOfGrid = db.prepare(`SELECT name FROM services WHERE grid = ? ORDER BY name`);
    this.getTokenRow = db.prepare(`SELECT json FROM tokens WHERE id = ?`);
    this.listTokenRows = db.prepare(`SELECT json FROM tokens ORDER BY json ->> '$.createdAt', id`);
    this.listTokenRowsOfGrid = db.prepare(`SELECT json FROM tokens WHERE grid = ? ORDER BY json ->> '$.createdAt', id`);
    this.putToken = db.prepare(`INSERT INTO tokens (id, grid, json) VALUES (?, ?, ?)`);
    this.dropToken = db.prepare(`DELETE FROM tokens WHERE id = ?`);
    this.dropTokensOfGrid = db.prepare(`DELETE FROM tokens WHERE grid = ?`);
    const now = nowIso();
    const existing = db.prepare(`SELECT DISTINCT grid FROM services`).all() as { grid: string }[];
    for (const name of new Set([DEFAULT_GRID, ...existing.map((r) => r.grid)])) {
      this.putGrid.run(name, JSON.stringify({ name, createdAt: now, labels: {} } satisfies Grid));
    }
  }

  getGrid(name: string): Grid | undefined {
    const row = this.getGridRow.get(name) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as Grid) : undefined;
  }

  listGrids(): Grid[] {
    return (this.listGridRows.all() as { json: string }[]).map((r) => JSON.parse(r.json) as Grid);
  }

  /** @throws GridExistsError (409) */
  createGrid(grid: Grid): Grid {
    if (this.putGrid.run(grid.name, JSON.stringify(grid)).changes === 0) throw new GridExistsError(grid.name);
    return grid;
  }

  /**
   * Removes a grid with its tokens.
   * @throws GridNotFoundError (404), GridNotEmptyError (409) while it has services.
   */
  deleteGrid(name: string): void {
    if (!this.getGrid(name)) throw new GridNotFoundError(name);
    const services = (this.servicesOfGrid.all(name) as { name: string }[]).map((r) => r.name);
    if (services.length > 0) throw new GridNotEmptyError(name, services);
    this.dropGrid.run(name);
    this.dropTokensOfGrid.run(name);
  }

  /** @throws GridNotFoundError (404) when a grid token names a grid that does not exist. */
  createToken(token: StoredToken): TokenInfo {
    if (token.grid !== undefined && !this.getGrid(token.grid)) throw new GridNotFoundError(token.grid);
    this.putToken.run(token.id, token.grid ?? null, JSON.stringify(token));
    return publicToken(token);
  }

  getToken(id: string): StoredToken | undefined {
    const row = this.getTokenRow.get(id) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as StoredToken) : undefined;
  }

  listTokens(filter: { readonly grid?: string } = {}): TokenInfo[] {
    const rows = (filter.grid === undefined ? this.listTokenRows.all() : this.listTokenRowsOfGrid.all(filter.grid)) as { json: string }[];
    return rows.map((r) => publicToken(JSON.parse(r.json) as StoredToken));
  }

  /** @throws TokenNotFoundError (404) */
  deleteToken(id: string): TokenInfo {
    const token = this.getToken(id);
    if (!token) throw new TokenNotFoundError(id);
    this.dropToken.run(id);
    return publicToken(token);
  }
}

/** The token without its hash. */
function publicToken(token: StoredToken): TokenInfo {
  const { hash: _hash, ...info } = token;
  return info;
}
