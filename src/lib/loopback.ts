import { isIP } from 'node:net';

/**
 * True for a host that only this machine can reach: 127.0.0.0/8, ::1 (and its IPv4-mapped form) and
 * `localhost`. A wildcard (0.0.0.0, ::) or any other name counts as reachable from outside.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
