import type Database from 'better-sqlite3';
import type { ServiceSpec, SpecRevision } from '../model/index.js';

/** Versions of a spec kept per service (Kubernetes' revisionHistoryLimit is 10; berth keeps twice that). */
export const SPEC_HISTORY_LIMIT = 20;

export const SPEC_HISTORY_DDL = `
CREATE TABLE IF NOT EXISTS spec_history (
  grid        TEXT NOT NULL,
  name        TEXT NOT NULL,
  generation  INTEGER NOT NULL,
  json        TEXT NOT NULL,
  PRIMARY KEY (grid, name, generation)
);
`;

/**
 * The versions of each service's spec (`berth service history`, `rollback --to`). Rows are written in
 * the same transaction as the service change that made them; callers run inside the store's write.
 */
export class SpecHistory {
  private readonly put: Database.Statement;
  private readonly get: Database.Statement;
  private readonly list: Database.Statement;
  private readonly trim: Database.Statement;
  private readonly drop: Database.Statement;

  constructor(db: Database.Database) {
    this.put = db.prepare(`INSERT INTO spec_history (grid, name, generation, json) VALUES (?, ?, ?, ?)
      ON CONFLICT (grid, name, generation) DO UPDATE SET json = excluded.json`);
    this.get = db.prepare(`SELECT json FROM spec_history WHERE grid = ? AND name = ? AND generation = ?`);
    this.list = db.prepare(`SELECT json FROM spec_history WHERE grid = ? AND name = ? ORDER BY generation`);
    this.trim = db.prepare(`DELETE FROM spec_history WHERE grid = ? AND name = ? AND generation <=
      (SELECT generation FROM spec_history WHERE grid = ? AND name = ? ORDER BY generation DESC LIMIT 1 OFFSET ?)`);
    this.drop = db.prepare(`DELETE FROM spec_history WHERE grid = ? AND name = ?`);
  }

  /** Records a new version (or replaces the row of the same generation). */
  record(grid: string, name: string, revision: SpecRevision): void {
    this.put.run(grid, name, revision.generation, JSON.stringify(revision));
    this.trim.run(grid, name, grid, name, SPEC_HISTORY_LIMIT);
  }

  /** Marks a version deployed at `at`; records it first when missing (a service older than the history). */
  markDeployed(grid: string, name: string, generation: number, spec: ServiceSpec, at: string, cause: string): void {
    const current = this.read(grid, name, generation);
    this.record(grid, name, current ? { ...current, deployedAt: at } : { generation, spec, createdAt: at, cause, deployedAt: at });
  }

  read(grid: string, name: string, generation: number): SpecRevision | undefined {
    const row = this.get.get(grid, name, generation) as { json: string } | undefined;
    return row ? (JSON.parse(row.json) as SpecRevision) : undefined;
  }

  /** Oldest first. */
  all(grid: string, name: string): SpecRevision[] {
    return (this.list.all(grid, name) as { json: string }[]).map((r) => JSON.parse(r.json) as SpecRevision);
  }

  remove(grid: string, name: string): void {
    this.drop.run(grid, name);
  }
}
