import { AddressExhaustedError } from '../model/index.js';

/** Parses "127.10.0.0/16" into its first usable and last address as 32-bit numbers. */
export function parseCidr(cidr: string): { first: number; last: number } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`invalid CIDR "${cidr}": expected a.b.c.d/n`);
  const base = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const bits = Number(m[5]);
  const size = 2 ** (32 - bits);
  const network = bits === 0 ? 0 : (base & ~(size - 1)) >>> 0;
  // Skip the network address (x.y.0.0) and the broadcast-looking last one, as IP allocators do.
  return { first: network + 1, last: network + size - 2 };
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseIp(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0;
}

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
