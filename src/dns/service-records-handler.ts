import type { DnsHandler, DnsNext, DnsReply } from './dns-handler.js';
import { keyIsUnder, nameKey } from './dns-query.js';
import type { DnsQuery } from './dns-query.js';
import { renderReply } from './dns-reply.js';
import type { ZoneTable } from './zone-table.js';
import { buildZoneTable } from './zone-table.js';

export interface ServiceRecordsHandlerOptions {
  /** Uniform in [0, 1); orders headless answers. Default Math.random. */
  readonly random?: () => number;
}

/**
 * Answers every name in berth's zone from the current `ZoneTable` (see zone-table.ts for the records);
 * passes every other name on. Per query: one suffix check, one map lookup, one copy.
 */
export class ServiceRecordsHandler implements DnsHandler {
  readonly name = 'service-records';
  private table: ZoneTable;
  private readonly random: () => number;

  constructor(table: ZoneTable, options: ServiceRecordsHandlerOptions = {}) {
    this.table = table;
    this.random = options.random ?? Math.random;
  }

  /** Swaps in the table of a newer snapshot; queries in flight finish with the table they started with. */
  setTable(table: ZoneTable): void {
    this.table = table;
  }

  handle(query: DnsQuery, next: DnsNext): DnsReply | Promise<DnsReply> {
    const table = this.table;
    if (!keyIsUnder(query.key, table.zoneKey)) return next(query);
    const entry = table.names.get(query.key);
    const template = entry === undefined ? table.nxdomain : (entry.cname ?? entry.byType.get(query.type) ?? entry.nodata);
    return renderReply(query, template, this.random);
  }
}

/** An empty zone (before the first snapshot arrives): only the apex exists. */
export function emptyZoneTable(domain: string, ttlSeconds: number): ZoneTable {
  nameKey(domain); // throws early on an unusable domain
  return buildZoneTable({ revision: 0, services: [] }, { domain, ttlSeconds });
}
