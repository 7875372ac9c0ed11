import net from 'node:net';
import type { DnsHandler, DnsNext, DnsReply } from './dns-handler.js';
import type { DnsQuery } from './dns-query.js';
import { Rcode } from './dns-query.js';
import { rcodeReply } from './dns-reply.js';

/** Who may always ask: this machine (the process driver's instances have loopback addresses too). */
export const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

/**
 * The clients berth's DNS server answers and forwards for, as CIDRs (`10.0.0.0/8`, `fd00::/8`, or a
 * bare address for one host). Not an open resolver: whoever is not listed gets REFUSED (as BIND's
 * `allow-recursion`, CoreDNS's acl plugin).
 */
export class ClientAllowList {
  readonly cidrs: readonly string[];
  private readonly list = new net.BlockList();

  /** @throws RangeError naming the first entry that is not an IPv4/IPv6 address or CIDR. */
  constructor(cidrs: readonly string[]) {
    this.cidrs = [...cidrs];
    for (const cidr of cidrs) {
      const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(cidr.trim());
      const address = m?.[1] ?? '';
      const family = net.isIP(address);
      const prefix = m?.[2] !== undefined ? Number(m[2]) : family === 4 ? 32 : 128;
      if (family === 0 || prefix > (family === 4 ? 32 : 128)) {
        throw new RangeError(`invalid DNS client range "${cidr}": expected an address or CIDR such as 10.0.0.0/8 or fd00::/8`);
      }
      this.list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** True when `address` (IPv4, IPv6, or IPv4-mapped IPv6 `::ffff:a.b.c.d`) is in one of the ranges. */
  allows(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const plain = mapped ? (mapped[1] as string) : address;
    const family = net.isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The first handler of the chain: a query from a client outside the allow list is REFUSED before any
 * zone lookup or forward (so berth never amplifies or relays for the network at large).
 */
export class ClientAccessHandler implements DnsHandler {
  readonly name = 'acl';
  constructor(private readonly allow: ClientAllowList) {}

  handle(query: DnsQuery, next: DnsNext): DnsReply | Promise<DnsReply> {
    if (this.allow.allows(query.client)) return next(query);
    return rcodeReply(query.raw, Rcode.REFUSED, query.questionEnd);
  }
}
