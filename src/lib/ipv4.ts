/* IPv4 arithmetic for address ranges (instance and service ranges). */

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

/** True when `ip` lies in the CIDR range (network and broadcast-like ends excluded, as allocators do). */
export function inRange(ip: string, cidr: string): boolean {
  const { first, last } = parseCidr(cidr);
  const n = parseIp(ip);
  return n >= first && n <= last;
}
