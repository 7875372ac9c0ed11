import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';

/** One upstream resolver. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}

/** Parses `1.2.3.4`, `1.2.3.4:5353`, `[::1]:53` or `::1` (port defaults to 53); throws RangeError otherwise. */
export function parseUpstream(text: string): Upstream {
  const s = text.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  let host: string;
  let port = 53;
  if (bracket !== null) {
    host = bracket[1] as string;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(s) !== 0) {
    host = s;
  } else {
    const i = s.lastIndexOf(':');
    host = s.slice(0, i);
    port = Number(s.slice(i + 1));
  }
  if (isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`invalid DNS upstream "${text}": expected IP[:PORT] or [IPv6]:PORT`);
  }
  return { host, port };
}

/** The `nameserver` lines of a resolv.conf text (resolv.conf(5): port 53 always; zone ids dropped). */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m === null) continue;
    const host = (m[1] as string).replace(/%.*$/, '');
    if (isIP(host) !== 0) out.push({ host, port: 53 });
  }
  return out;
}

/**
 * The host's resolvers from /etc/resolv.conf, minus berth's own listening address (so that berth can be
 * the host's resolver without forwarding to itself). A missing file gives no upstreams (every
 * out-of-zone query then gets SERVFAIL).
 */
export function hostUpstreams(self: Upstream, path = '/etc/resolv.conf'): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const wildcard = self.host === '0.0.0.0' || self.host === '::';
  return parseResolvConf(text).filter((u) => !(u.port === self.port && (u.host === self.host || (wildcard && isLocal(u.host)))));
}

function isLocal(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}
