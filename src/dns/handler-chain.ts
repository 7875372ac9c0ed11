import type { Logger } from '../lib/index.js';
import type { ClientAllowList } from './client-access.js';
import { ClientAccessHandler } from './client-access.js';
import type { DnsHandler, DnsNext } from './dns-handler.js';
import { Rcode } from './dns-query.js';
import { rcodeReply } from './dns-reply.js';
import { ForwardHandler } from './forward-handler.js';
import { ServiceRecordsHandler } from './service-records-handler.js';
import type { Upstream } from './upstream.js';
import type { ZoneTable } from './zone-table.js';

export interface ChainDeps {
  readonly table: ZoneTable;
  readonly random: () => number;
  readonly upstreams: readonly Upstream[];
  readonly forwardTimeoutMs: number;
  readonly logger: Logger;
  /** The clients served; everyone else is REFUSED. */
  readonly allow: ClientAllowList;
}

/**
 * The chain, in order — the one place that decides it (as CoreDNS's plugin.cfg):
 *   1. acl: clients outside the allow list get REFUSED (no open resolver)
 *   2. service-records: berth's zone, from the latest endpoints snapshot
 *   3. forward: every other name, to the host's resolvers
 * `records` is returned apart so the server can swap its table on each snapshot.
 */
export function buildHandlerChain(deps: ChainDeps): { readonly handlers: readonly DnsHandler[]; readonly records: ServiceRecordsHandler } {
  const records = new ServiceRecordsHandler(deps.table, { random: deps.random });
  const forward = new ForwardHandler({ upstreams: deps.upstreams, timeoutMs: deps.forwardTimeoutMs, logger: deps.logger });
  return { handlers: [new ClientAccessHandler(deps.allow), records, forward], records };
}

/** Links handlers into one function; a query that falls off the end is REFUSED (we are not its server). */
export function composeChain(handlers: readonly DnsHandler[]): DnsNext {
  let next: DnsNext = (query) => rcodeReply(query.raw, Rcode.REFUSED, query.questionEnd);
  for (let i = handlers.length - 1; i >= 0; i--) {
    const handler = handlers[i] as DnsHandler;
    const after = next;
    next = (query) => handler.handle(query, after);
  }
  return next;
}
