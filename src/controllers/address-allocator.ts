import { formatIp, parseCidr, parseIp } from '../lib/index.js';
import { AddressExhaustedError } from '../model/index.js';

/**
 * Hands out instance addresses from a range (default 127.10.0.0/16). It moves forward through the
 * range and wraps, so an address just freed is not handed out again at once (a client may still hold
 * a connection to the old instance). `inUse` comes from the store on each call: no state to lose.
 */
export class AddressAllocator {
  private readonly first: number;
  private readonly last: number;
  private cursor: number;

  constructor(private readonly cidr: string) {
    const r = parseCidr(cidr);
    this.first = r.first;
    this.last = r.last;
    this.cursor = r.first;
  }

  /** Allocates `count` addresses not in `inUse`. @throws AddressExhaustedError (422) */
  allocate(count: number, inUse: ReadonlySet<string>): string[] {
    const out: string[] = [];
    const size = this.last - this.first + 1;
    let tried = 0;
    while (out.length < count) {
      if (tried++ >= size) throw new AddressExhaustedError(this.cidr);
      const ip = formatIp(this.cursor);
      this.cursor = this.cursor >= this.last ? this.first : this.cursor + 1;
      if (!inUse.has(ip)) out.push(ip);
    }
    return out;
  }

  /** Resumes after the highest address seen, so a restarted server keeps moving forward. */
  resumeAfter(addresses: Iterable<string>): void {
    let max = -1;
    for (const a of addresses) {
      const n = parseIp(a);
      if (n >= this.first && n <= this.last && n > max) max = n;
    }
    if (max >= 0) this.cursor = max >= this.last ? this.first : max + 1;
  }
}
