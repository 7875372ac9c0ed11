import type Database from 'better-sqlite3';
import type { NewServiceEvent, ServiceEvent } from '../model/index.js';
import { RequestInvalidError, foldRoutineEvents, serviceKey } from '../model/index.js';
import type { ChangeLog } from './change-log.js';
import type { FrozenJsonCache } from './deep-freeze.js';
import type { EventFilter } from './store.js';

/**
 * The per-service event history of the SQLite store: each event gets the store revision as its id,
 * is recorded in the watch history, and each service keeps its newest `perService` events. Writes run
 * inside the store's write transaction.
 */
export class EventTable {
  private readonly insert: Database.Statement;
  private readonly trim: Database.Statement;

  /** `query` prepares a statement once and reuses it (the store's statement cache). */
  constructor(
    db: Database.Database,
    private readonly options: {
      readonly log: ChangeLog;
      readonly frozen: FrozenJsonCache;
      readonly perService: number;
      readonly nowMs: () => number;
      readonly query: (sql: string) => Database.Statement;
    },
  ) {
    this.insert = db.prepare(`INSERT INTO events (id, grid, service, time_ms, json) VALUES (?, ?, ?, ?, ?)`);
    this.trim = db.prepare(`DELETE FROM events WHERE grid = ? AND service = ? AND id <=
      (SELECT id FROM events WHERE grid = ? AND service = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`);
  }

  /**
   * Appends events (time: the given one when valid, else now), then trims each service touched. A burst
   * of routine events of one type is recorded as one (foldRoutineEvents), whoever wrote it.
   */
  append(events: readonly NewServiceEvent[]): void {
    const { log } = this.options;
    const touched = new Map<string, readonly [string, string]>();
    for (const { time, ...rest } of foldRoutineEvents(events)) {
      const revision = log.next();
      const given = time === undefined ? Number.NaN : Date.parse(time);
      const timeMs = Number.isFinite(given) ? given : this.options.nowMs();
      const event: ServiceEvent = { id: revision, time: new Date(timeMs).toISOString(), ...rest };
      const json = JSON.stringify(event);
      this.insert.run(revision, rest.grid, rest.service, timeMs, json);
      log.record('event', 'put', `${serviceKey(rest.grid, rest.service)}/${revision}`, json, revision);
      touched.set(serviceKey(rest.grid, rest.service), [rest.grid, rest.service]);
    }
    for (const [grid, service] of touched.values()) this.trim.run(grid, service, grid, service, this.options.perService);
  }

  /**
   * Events of one service, oldest first.
   * @throws RequestInvalidError when `since` is not a time.
   */
  list(filter: EventFilter): ServiceEvent[] {
    const where = ['grid = ?', 'service = ?'];
    const args: unknown[] = [filter.grid, filter.service];
    if (filter.afterId !== undefined) {
      where.push('id > ?');
      args.push(filter.afterId);
    }
    if (filter.since !== undefined) {
      const ms = Date.parse(filter.since);
      if (!Number.isFinite(ms)) throw new RequestInvalidError(`since: must be an RFC 3339 time, got "${filter.since}"`);
      where.push('time_ms >= ?');
      args.push(ms);
    }
    const tail = filter.tail;
    const sql = `SELECT json FROM events WHERE ${where.join(' AND ')} ORDER BY id ${tail === undefined ? 'ASC' : 'DESC LIMIT ?'}`;
    if (tail !== undefined) args.push(Math.max(0, Math.floor(tail)));
    const rows = this.options.query(sql).all(...args) as { json: string }[];
    if (tail !== undefined) rows.reverse();
    return rows.map((r) => this.options.frozen.parse<ServiceEvent>(r.json));
  }
}
