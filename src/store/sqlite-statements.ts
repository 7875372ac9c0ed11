import type Database from 'better-sqlite3';

/** The store's fixed statements, prepared once per connection. */
export const SQL = {
  getService: `SELECT json FROM services WHERE grid = ? AND name = ?`,
  putService: `INSERT INTO services (grid, name, json, mod_revision) VALUES (?, ?, ?, ?)
    ON CONFLICT (grid, name) DO UPDATE SET json = excluded.json, mod_revision = excluded.mod_revision`,
  deleteService: `DELETE FROM services WHERE grid = ? AND name = ?`,
  listServices: `SELECT json FROM services ORDER BY grid, name`,
  listServicesInGrid: `SELECT json FROM services WHERE grid = ? ORDER BY name`,
  countInstancesOfService: `SELECT count(*) AS n FROM instances WHERE grid = ? AND service = ?`,
  getInstance: `SELECT json FROM instances WHERE id = ?`,
  insertInstance: `INSERT INTO instances (id, grid, service, node, slot, state, create_revision, json, mod_revision)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  updateInstance: `UPDATE instances SET state = ?, json = ?, mod_revision = ? WHERE id = ?`,
  /** The same, giving the columns it did not set, so that the row as it now is can be noted for replication (RowCapture.note). */
  updateInstanceReturning: `UPDATE instances SET state = ?, json = ?, mod_revision = ? WHERE id = ? RETURNING grid, service, node, slot, create_revision`,
  deleteInstance: `DELETE FROM instances WHERE id = ?`,
  putNode: `INSERT INTO nodes (name, json, mod_revision) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET json = excluded.json, mod_revision = excluded.mod_revision`,
  listNodes: `SELECT json FROM nodes ORDER BY name`,
  getNode: `SELECT json FROM nodes WHERE name = ?`,
  deleteNode: `DELETE FROM nodes WHERE name = ?`,
} as const;

export type Statements = { readonly [K in keyof typeof SQL]: Database.Statement };
export type JsonRow = { json: string };
