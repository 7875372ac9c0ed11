import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, InstanceTelemetry } from '../agent/index.js';
import { createApi } from '../api/index.js';
import { ServiceController } from '../controllers/index.js';
import { ProcessDriver, exitDirsInUse } from '../drivers/index.js';
import { ServiceProxy, defaultProxyThreads } from '../proxy/index.js';
import type { ProxyEngine } from '../proxy/index.js';
import { DnsServer } from '../dns/index.js';
import type { Logger } from '../lib/index.js';
import { DisposableStore } from '../lib/index.js';
import type { Instance } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import { claimDataDir } from './data-dir-lock.js';
import { claimAddressRanges } from './range-claims.js';
import { dataPlaneDrain } from './data-plane-drain.js';
import { EndpointsPublisher } from './endpoints-publisher.js';
import { createLogger } from './logger.js';
import { storeAgentPorts } from './store-agent-ports.js';
import { BERTH_VERSION } from './version.js';

export interface ServerConfig {
  /** Where the store, instance state, logs and stateful data live. */
  readonly dataDir: string;
  /** HOST:PORT of the HTTP API (default 127.0.0.1:7420). Port 0 picks a free one. */
  readonly listen: string;
  /**
   * Instance address range (default: BERTH_INSTANCE_RANGE, else this data directory's earlier one, else
   * 127.10.0.0/16 — or a free alternative when another server holds that; see range-claims.ts).
   */
  readonly instanceRange?: string;
  /** Node name (default: the host name). */
  readonly node?: string;
  readonly logger?: Logger;
  /**
   * HOST:PORT of the DNS server (default 127.0.0.1:7453; when that port is taken, a free one, reported
   * by GET /v1/version). Port 0 picks a free one.
   */
  readonly dns?: string;
  /** Write the server's log to `<dataDir>/server.log` instead of stderr. */
  readonly logToFile?: boolean;
}

export interface RunningServer {
  readonly url: string;
  readonly store: ReturnType<typeof openSqliteStore>;
  /** What the operator must hear of at start, one sentence each (e.g. a range moved away from another server's). */
  readonly notices: readonly string[];
  /** Stops the server; instances keep running and are re-adopted by the next server on this data dir. */
  stop(): Promise<void>;
}

export const DEFAULT_LISTEN = '127.0.0.1:7420';
export const DEFAULT_DNS = '127.0.0.1:7453';

/** Starts berth's DNS server; when the default port is taken, on a free one rather than not at all. */
async function startDns(listen: string, logger: Logger): Promise<{ server: DnsServer; address: string }> {
  const [host, port] = splitListen(listen);
  // BERTH_DNS_UPSTREAMS (comma-separated IP[:PORT]) replaces the host's resolvers from /etc/resolv.conf.
  const upstreams = process.env.BERTH_DNS_UPSTREAMS?.split(',').map((u) => u.trim()).filter(Boolean);
  const options = { host, logger, ...(upstreams && upstreams.length > 0 ? { upstreams } : {}) };
  let server = new DnsServer({ ...options, port });
  try {
    await server.start();
  } catch (error) {
    if (listen !== DEFAULT_DNS || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    logger.warn({ listen }, 'the default DNS port is taken; serving DNS on a free port (see GET /v1/version)');
    server = new DnsServer({ ...options, port: 0 });
    await server.start();
  }
  const a = server.address();
  return { server, address: `${a.host}:${a.port}` };
}

/**
 * The composition root of `berth server`: store → controllers; store → agent (through ports) →
 * driver; agent → telemetry → API. Starts in dependency order and stops in reverse.
 */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const node = config.node ?? hostname();
  const owned = new DisposableStore();
  owned.add(claimDataDir(dataDir));
  const logger = config.logger ?? createLogger(config.logToFile ? { destination: join(dataDir, 'server.log') } : {});
  try {
    const exitDir = join(dataDir, 'exits');
    // Machine-wide: no two servers hand out the same instance addresses, virtual IPs or node ports.
    const { ranges, notices } = await claimAddressRanges(dataDir, {
      env: process.env,
      ...(config.instanceRange ? { instanceRange: config.instanceRange } : {}),
      exitDir,
      exitDirsInUse,
      logger: logger.child({ part: 'ranges' }),
    });
    for (const notice of notices) logger.warn({ ranges }, notice);
    const networkRanges = { serviceRange: ranges.serviceRange, nodePortRange: [...ranges.nodePortRange] as [number, number] };
    const store = openSqliteStore(join(dataDir, 'berth.db'));
    owned.defer(() => store.close());
    store.upsertNode({ name: node, address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });

    const driver = new ProcessDriver({ exitDir, logger: logger.child({ part: 'driver' }) });
    owned.defer(() => driver.dispose());
    const telemetry = new InstanceTelemetry(driver, dataDir);
    // The data plane: the proxy behind virtual IPs, node ports, external and load-balancer addresses,
    // and the DNS server, both fed whole endpoint snapshots by the publisher.
    const nodeAddresses = ['127.0.0.1'];
    const proxy = new ServiceProxy({
      nodeAddresses,
      ...proxyFromEnv(process.env, logger),
      logger: logger.child({ part: 'proxy' }),
      onError: (e) => logger.warn({ err: e }, 'proxy listener problem'),
    });
    const dns = await startDns(config.dns ?? DEFAULT_DNS, logger.child({ part: 'dns' }));
    owned.defer(() => dns.server.stop());
    const publisher = new EndpointsPublisher(store, [(snapshot) => proxy.sync(snapshot), (snapshot) => dns.server.update(snapshot)], { nodeAddresses, logger: logger.child({ part: 'endpoints' }) });
    const api = createApi({
      store,
      telemetry: {
        logs: (instances, options) => telemetry.logs(liveSource(store, instances), options),
        stats: (instances) => telemetry.stats(instances),
      },
      endpoints: publisher,
      dnsAddress: dns.address,
      networkRanges,
      node,
      version: BERTH_VERSION,
      logger: logger.child({ part: 'api' }),
    });
    const [host, port] = splitListen(config.listen);
    await api.listen({ host, port });
    owned.defer(() => api.close());
    const address = api.server.address();
    const url = `http://${host}:${typeof address === 'object' && address ? address.port : port}`;

    // Zero-downtime stop: an instance leaving is drained from the proxy and DNS tables in use before its
    // stop signal (docs/agent.md).
    const dataPlane = dataPlaneDrain(publisher, proxy);
    const agent = new Agent({ node, driver, ports: storeAgentPorts(store), dataDir, apiUrl: url, dnsAddress: dns.address, dataPlane, logger: logger.child({ part: 'agent' }) });
    await agent.start();
    owned.defer(() => agent.stop());

    await proxy.start();
    owned.defer(() => proxy.stop());
    publisher.start();
    owned.defer(() => publisher.stop());
    // The agent stops (detaches; stop is idempotent) before the data plane does: a drain in progress is
    // then left to the next berth, instead of ending early because the proxy cut its connections.
    owned.defer(() => agent.stop());

    const controller = new ServiceController({ store, instanceRange: ranges.instanceRange, logger: logger.child({ part: 'controller' }) });
    controller.start();
    owned.defer(() => controller.stop());

    logger.info({ url, dataDir, node }, 'berth server started');
    return { url, store, notices, stop: () => owned.dispose() };
  } catch (error) {
    await owned.dispose();
    throw error;
  }
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

/**
 * While following logs, re-read the service's instances so that restarts and scale-ups show up
 * (Kontena's `logs -f` follows the service, not a fixed set of instances).
 */
function liveSource(store: RunningServer['store'], initial: readonly Instance[]): () => readonly Instance[] {
  const first = initial[0];
  if (!first) return () => initial;
  const all = (): Instance[] => store.listInstances({ grid: first.grid, service: first.service });
  const ids = new Set(initial.map((i) => i.id));
  const wholeService = all().every((i) => ids.has(i.id));
  const slots = new Set(initial.map((i) => i.slot));
  return () => all().filter((i) => ids.has(i.id) || wholeService || slots.has(i.slot));
}

export function splitListen(listen: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`invalid --listen "${listen}": expected HOST:PORT, e.g. ${DEFAULT_LISTEN}`);
  return [(m[1] as string).replace(/^\[|\]$/g, '') || '127.0.0.1', Number(m[2])];
}
