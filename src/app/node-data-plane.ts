import type { DataPlane } from '../agent/index.js';
import type { DisposableStore, Logger } from '../lib/index.js';
import { ServiceProxy } from '../proxy/index.js';
import { dataPlaneDrain, withClusterBarrier } from './data-plane-drain.js';
import { DEFAULT_DNS, proxyFromEnv, startDns } from './data-plane.js';
import type { EndpointsSnapshot } from '../model/index.js';
import type { EndpointsSource, SnapshotSink } from './endpoints-publisher.js';
import { EndpointsPublisher } from './endpoints-publisher.js';
import { proxySink } from './listener-conditions.js';

export interface NodeDataPlaneOptions {
  /** `HOST:PORT` of the node's DNS server, or `off` (default 127.0.0.1:7453, a free port when taken). */
  readonly dns?: string;
  /** `off`: this node's proxy opens only the forwards to its own instances' node-published ports (virtual IPs, node ports and load-balancer addresses are then served by other nodes only). Default on. */
  readonly proxy?: 'on' | 'off';
  /** More DNS clients (CIDRs) besides loopback. */
  readonly dnsAllow?: readonly string[];
  /** Where node ports and load-balancer addresses open: the node's address. */
  readonly nodeAddresses: readonly string[];
  /** This node's name: other nodes' instances are reached through their node-published ports. */
  readonly localNode: string;
  readonly logger: Logger;
  /** Everything started is stopped with it, in reverse order. */
  readonly owned: DisposableStore;
  /**
   * The drain barrier across nodes, through the server: `report` gets every revision this node's DNS
   * and proxy applied; `behind` waits for the other nodes' (docs/nodes.md).
   */
  readonly barrier?: { readonly report: (revision: number) => void; readonly behind: (revision: number, signal: AbortSignal) => Promise<string[]> };
  /** More receivers of every snapshot, after the DNS server and the proxy: berth's DNS for the node's containers (on the bridge gateway). */
  readonly sinks?: readonly SnapshotSink[];
}

export interface NodeDataPlane {
  /** `host:port` of the DNS server, when it runs. */
  readonly dnsAddress: string | undefined;
  /** The drain barrier of zero-downtime stops, when the proxy runs. */
  readonly drain: DataPlane | undefined;
  /** The endpoints snapshot applied last (a DNS server started later takes it first), or undefined before the first. */
  current(): EndpointsSnapshot | undefined;
}

/**
 * The data plane of a node that is not the server (`berth agent`): berth's DNS server and the proxy,
 * fed whole endpoint snapshots from the node's cluster mirror, as the server feeds its own from the
 * store. Instances on this node are drained from this node's proxy before they stop.
 */
export async function startNodeDataPlane(source: EndpointsSource, options: NodeDataPlaneOptions): Promise<NodeDataPlane> {
  const { logger, owned } = options;
  const sinks: SnapshotSink[] = [];
  let dnsAddress: string | undefined;
  if (options.dns !== 'off') {
    const dns = await startDns(options.dns ?? DEFAULT_DNS, logger.child({ part: 'dns' }), ['127.0.0.0/8', '::1/128', ...(options.dnsAllow ?? [])]);
    owned.defer(() => dns.server.stop());
    sinks.push((snapshot) => dns.server.update(snapshot));
    dnsAddress = dns.address;
  }
  // The proxy always runs for this node's forwards (its instances' node-published ports, which every
  // other node's proxy and DNS send their traffic to); `--proxy off` only leaves out the services'
  // listeners (virtual IPs, node ports, load-balancer and external addresses), which other nodes serve.
  const proxy = new ServiceProxy({
    nodeAddresses: options.nodeAddresses,
    ...proxyFromEnv(process.env, logger),
    logger: logger.child({ part: 'proxy' }),
  });
  const toProxy = proxySink(proxy);
  sinks.push(options.proxy === 'off' ? (snapshot) => toProxy({ ...snapshot, services: [] }) : toProxy);
  sinks.push(...(options.sinks ?? []));
  const publisher = new EndpointsPublisher(source, sinks, { nodeAddresses: options.nodeAddresses, localNode: options.localNode, logger: logger.child({ part: 'endpoints' }) });
  await proxy.start();
  owned.defer(() => proxy.stop());
  const barrier = options.barrier;
  if (barrier && sinks.length > 0) owned.defer(publisher.onApplied((revision) => barrier.report(revision)));
  publisher.start();
  owned.defer(() => publisher.stop());
  const local = dataPlaneDrain(publisher, proxy);
  return { dnsAddress, drain: barrier ? withClusterBarrier(local, barrier.behind, logger.child({ part: 'drain' })) : local, current: () => publisher.current() };
}
