import type Database from 'better-sqlite3';
import type { SecretInfo, Service } from '../model/index.js';
import { SecretExistsError, SecretInUseError, SecretNotFoundError } from '../model/index.js';

/** Secrets (schema version 4). The values live in this table only: never in a spec, event or change. */
export const SECRET_DDL = `
CREATE TABLE IF NOT EXISTS secrets (
  grid TEXT NOT NULL,
  name TEXT NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (grid, name)
);
`;

/** A secret as stored: its info and its values. */
interface StoredSecret extends Omit<SecretInfo, 'keys'> {
  readonly data: Readonly<Record<string, string>>;
}

/** The secrets of the SQLite store; writes run inside the store's write transaction. */
export class SecretTable {
  private readonly get: Database.Statement;
  private readonly list: Database.Statement;
  private readonly put: Database.Statement;
  private readonly drop: Database.Statement;
  private readonly dropGrid: Database.Statement;
  private readonly servicesOfGrid: Database.Statement;

  constructor(db: Database.Database) {
    this.get = db.prepare(`SELECT json FROM secrets WHERE grid = ? AND name = ?`);
    this.list = db.prepare(`SELECT json FROM secrets WHERE grid = ? ORDER BY name`);
    this.put = db.prepare(`INSERT INTO secrets (grid, name, json) VALUES (?, ?, ?) ON CONFLICT (grid, name) DO UPDATE SET json = excluded.json`);
    this.drop = db.prepare(`DELETE FROM secrets WHERE grid = ? AND name = ?`);
    this.dropGrid = db.prepare(`DELETE FROM secrets WHERE grid = ?`);
    this.servicesOfGrid = db.prepare(`SELECT json FROM services WHERE grid = ? ORDER BY name`);
  }

  info(grid: string, name: string): SecretInfo | undefined {
    const stored = this.read(grid, name);
    return stored ? toInfo(stored) : undefined;
  }

  /** One value, for a container's env; undefined when the secret or the key is missing. */
  value(grid: string, name: string, key: string): string | undefined {
    const data = this.read(grid, name)?.data;
    return data && Object.hasOwn(data, key) ? data[key] : undefined;
  }

  all(grid: string): SecretInfo[] {
    return (this.list.all(grid) as { json: string }[]).map((r) => toInfo(JSON.parse(r.json) as StoredSecret));
  }

  /**
   * Creates (`mode: create`), replaces (`replace`) or adds keys to (`merge`) a secret.
   * @throws SecretExistsError (409) on create of an existing name, SecretNotFoundError (404) on replace or merge of a missing one
   */
  write(grid: string, name: string, data: Readonly<Record<string, string>>, mode: 'create' | 'replace' | 'merge', nowIso: string): SecretInfo {
    const current = this.read(grid, name);
    if (mode === 'create' && current) throw new SecretExistsError(grid, name);
    if (mode !== 'create' && !current) throw new SecretNotFoundError(grid, name);
    const merged = mode === 'merge' && current ? { ...current.data, ...data } : { ...data };
    const stored: StoredSecret = { grid, name, data: merged, createdAt: current?.createdAt ?? nowIso, updatedAt: nowIso };
    this.put.run(grid, name, JSON.stringify(stored));
    return toInfo(stored);
  }

  /** @throws SecretNotFoundError (404), SecretInUseError (409) while a service's spec refers to it */
  remove(grid: string, name: string): void {
    if (!this.read(grid, name)) throw new SecretNotFoundError(grid, name);
    const users = (this.servicesOfGrid.all(grid) as { json: string }[])
      .map((r) => JSON.parse(r.json) as Service)
      .filter((s) => secretsOf(s).has(name))
      .map((s) => s.name);
    if (users.length > 0) throw new SecretInUseError(grid, name, users);
    this.drop.run(grid, name);
  }

  removeGrid(grid: string): void {
    this.dropGrid.run(grid);
  }

  private read(grid: string, name: string): StoredSecret | undefined {
    const row = this.get.get(grid, name) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as StoredSecret) : undefined;
  }
}

/** The secrets a service's spec (and the deployed one) refer to. */
export function secretsOf(service: Service): Set<string> {
  const names = new Set<string>();
  for (const spec of [service.spec, service.deployment?.spec]) {
    for (const c of spec?.containers ?? []) {
      for (const e of c.env) if ('valueFrom' in e) names.add(e.valueFrom.secretKeyRef.name);
    }
  }
  return names;
}

function toInfo(stored: StoredSecret): SecretInfo {
  return { grid: stored.grid, name: stored.name, keys: Object.keys(stored.data).sort(), createdAt: stored.createdAt, updatedAt: stored.updatedAt };
}
