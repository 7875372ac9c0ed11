import { DnsServer } from '../dns/index.js';
import type { Logger } from '../lib/index.js';
import type { ProxyEngine } from '../proxy/index.js';
import { defaultProxyThreads } from '../proxy/index.js';

/*
 * The pieces of a node's data plane shared by `berth server` and `berth agent`: berth's DNS server and
 * the proxy's engine. Each node runs its own, fed the same endpoint snapshots (app/endpoints-publisher.ts).
 */

export const DEFAULT_DNS = '127.0.0.1:7453';

/** `HOST:PORT` (IPv6 in brackets) → host and port. */
function splitHostPort(listen: string): [string, number] {
  const at = listen.lastIndexOf(':');
  return [listen.slice(0, at).replace(/^\[|\]$/g, ''), Number(listen.slice(at + 1))];
}

/** Starts berth's DNS server; when the default port is taken, on a free one rather than not at all. */
export async function startDns(listen: string, logger: Logger, allow: readonly string[]): Promise<{ server: DnsServer; address: string }> {
  const [host, port] = splitHostPort(listen);
  // BERTH_DNS_UPSTREAMS (comma-separated IP[:PORT]) replaces the host's resolvers from /etc/resolv.conf.
  const upstreams = process.env.BERTH_DNS_UPSTREAMS?.split(',').map((u) => u.trim()).filter(Boolean);
  const options = { host, logger, allow, ...(upstreams && upstreams.length > 0 ? { upstreams } : {}) };
  let server = new DnsServer({ ...options, port });
  try {
    await server.start();
  } catch (error) {
    if (listen !== DEFAULT_DNS || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    server = new DnsServer({ ...options, port: 0 });
    await server.start();
    // The port it got, in the warning itself: an agent's DNS is in no server's GET /v1/version.
    logger.warn({ listen, port: server.address().port }, `the default DNS port is taken; serving DNS on ${server.address().host}:${server.address().port} instead`);
  }
  const a = server.address();
  return { server, address: `${a.host}:${a.port}` };
}

/**
 * The proxy's TCP engine and relay threads from the environment: BERTH_PROXY_ENGINE (`native`, the
 * default: berth-relay; `node`: the server's event loop) and BERTH_PROXY_THREADS (1–64, default
 * `defaultProxyThreads()` = min(2, cores)). A bad value is logged and the default used.
 */
export function proxyFromEnv(env: NodeJS.ProcessEnv, logger: Logger): { engine: ProxyEngine; threads: number } {
  let engine: ProxyEngine = 'native';
  const rawEngine = env.BERTH_PROXY_ENGINE?.trim();
  if (rawEngine === 'node' || rawEngine === 'native') engine = rawEngine;
  else if (rawEngine !== undefined && rawEngine !== '') logger.warn({ BERTH_PROXY_ENGINE: rawEngine }, 'BERTH_PROXY_ENGINE is neither native nor node; using native');
  let threads = defaultProxyThreads();
  const rawThreads = env.BERTH_PROXY_THREADS?.trim();
  if (rawThreads !== undefined && rawThreads !== '') {
    const n = Number(rawThreads);
    if (Number.isInteger(n) && n >= 1 && n <= 64) threads = n;
    else logger.warn({ BERTH_PROXY_THREADS: rawThreads }, 'BERTH_PROXY_THREADS is not an integer from 1 to 64; using the default');
  }
  return { engine, threads };
}

