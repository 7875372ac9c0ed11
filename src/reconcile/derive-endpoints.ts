import type { Endpoint, EndpointPort, Instance, Service, ServiceEndpoints, ServicePort } from '../model/index.js';
import { isReady, isTerminal, servicePortsOf } from '../model/index.js';

/** Kubernetes' DefaultClientIPServiceAffinitySeconds (the spec's default, model/service-spec.ts). */
export { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from '../model/index.js';

export interface DeriveEndpointsOptions {
  /** The service's virtual IP, as allocated; undefined for headless and ExternalName services. */
  readonly clusterIP?: string;
  readonly externalIPs?: readonly string[];
  readonly loadBalancerIPs?: readonly string[];
  readonly externalName?: string;
  readonly sessionAffinity?: ServiceEndpoints['sessionAffinity'];
  readonly publishNotReadyAddresses?: boolean;
  /**
   * Across machines: the node this data plane runs on, and where every other node is reached. An
   * instance of another node is then its node's address and node-published ports
   * (InstanceSpec.hostPorts); one without a published port for a target is no endpoint for it.
   * Absent: every instance is reached at its own address (one machine).
   */
  readonly remote?: { readonly localNode: string; readonly nodeAddress: (node: string) => string | undefined };
}

/**
 * The endpoints of one service from its deployed spec and its instances (pure; the endpoints controller
 * calls it on every change and hands the result to dns/ and proxy/ in a snapshot).
 *
 * - Ports: the spec's service ports; a service that declares none serves its containers' ports, each
 *   as a service port of the same number and name (a plain berth service is reachable on the ports its
 *   processes listen on).
 * - targetPort: a number is used as is; a name is looked up among the instance's container ports
 *   (Kubernetes' named-port indirection), and an instance without that port has no endpoint for it.
 * - A service without containers serves the endpoints set by hand (`spec.endpoints`), all ready.
 * - Ready (isReady): running, still desired running, and its readiness probes passing. Instances
 *   starting, failing readiness, or asked to stop but not stopped yet (draining) are listed as not
 *   ready; ended instances are not listed.
 */
export function deriveEndpoints(service: Service, instances: readonly Instance[], options: DeriveEndpointsOptions = {}): ServiceEndpoints {
  // The network face takes effect when stored, as an edit of a Kubernetes Service does; only the
  // workload waits for a deploy. So ports and type come from the current spec, not the deployed one.
  const spec = service.spec;
  const servicePorts = servicePortsOf(spec);
  const ports: EndpointPort[] = servicePorts.map((p) => ({
    name: p.name ?? '',
    protocol: p.protocol,
    port: p.port,
    ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
    ...(p.published !== undefined ? { published: p.published } : {}),
  }));
  const endpoints: Endpoint[] = [];
  if (spec.endpoints !== undefined) {
    // A service without containers (Kubernetes' service without a selector): the endpoints the user set.
    for (const address of spec.endpoints) {
      const [ip, port] = address.split(':');
      const targets: Record<string, number> = {};
      for (const p of servicePorts) targets[p.name ?? ''] = port !== undefined ? Number(port) : typeof p.targetPort === 'number' ? p.targetPort : p.port;
      endpoints.push({ ip: ip as string, ports: targets, ready: true });
    }
  } else if (spec.type !== 'ExternalName') {
    const remote = options.remote;
    for (const i of instances) {
      if (isTerminal(i.status.state)) continue;
      const elsewhere = remote !== undefined && i.node !== remote.localNode;
      const ip = elsewhere ? remote.nodeAddress(i.node) : i.spec.address;
      if (ip === undefined) continue; // on a node no longer known: nowhere to send traffic
      const targets: Record<string, number> = {};
      for (const p of servicePorts) {
        const target = resolveTarget(p, i);
        if (target === undefined) continue;
        const at = elsewhere ? i.spec.hostPorts?.find((h) => h.containerPort === target && h.protocol === p.protocol)?.hostPort : target;
        if (at !== undefined) targets[p.name ?? ''] = at;
      }
      endpoints.push({
        ip,
        ports: targets,
        ready: isReady(i),
        slot: i.slot,
        instance: i.id,
      });
    }
    endpoints.sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || (a.instance ?? '').localeCompare(b.instance ?? ''));
  }
  return {
    grid: service.grid,
    service: service.name,
    type: spec.type,
    headless: options.clusterIP === undefined && spec.type !== 'ExternalName',
    ...(options.clusterIP !== undefined ? { clusterIP: options.clusterIP } : {}),
    ...((options.externalName ?? spec.externalName) !== undefined ? { externalName: (options.externalName ?? spec.externalName) as string } : {}),
    externalIPs: options.externalIPs ?? [],
    loadBalancerIPs: options.loadBalancerIPs ?? [],
    ports,
    endpoints,
    sessionAffinity: options.sessionAffinity ?? { type: 'None' },
    publishNotReadyAddresses: options.publishNotReadyAddresses ?? false,
  };
}

/** The one rule for which ports a service serves lives in model/ (the store's host-listener table uses it too). */
export { servicePortsOf };

function resolveTarget(port: ServicePort, instance: Instance): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  for (const c of instance.spec.containers) {
    const named = c.ports.find((p) => p.name === target && p.protocol === port.protocol);
    if (named) return named.containerPort;
  }
  return undefined;
}
