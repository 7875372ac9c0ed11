/*
 * The handler contract, CoreDNS-style: a handler answers a query or passes it to `next`. The order of the
 * chain is one list, in handler-chain.ts.
 */
import type { DnsQuery } from './dns-query.js';

/** A whole reply message in wire form (no TCP length prefix), or undefined to send nothing. */
export type DnsReply = Buffer | undefined;

/** Synchronous when the answer is at hand (the zone), a promise when it needs I/O (forwarding). */
export type DnsNext = (query: DnsQuery) => DnsReply | Promise<DnsReply>;

export interface DnsHandler {
  /** For logs and metrics. */
  readonly name: string;
  handle(query: DnsQuery, next: DnsNext): DnsReply | Promise<DnsReply>;
  /** Releases sockets and timers; the server calls it on stop(). */
  dispose?(): void | Promise<void>;
}
