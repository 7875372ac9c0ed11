/*
 * The pure half of the proxy (kube-proxy's model): from one whole endpoints snapshot, compute which
 * addresses to listen on and which backends stand behind each service port. No sockets, no clock;
 * `ServiceProxy` applies the result.
 */
import type { EndpointsSnapshot, ServiceEndpoints } from '../model/index.js';

export type ProxyProtocol = 'TCP' | 'UDP';

/** One backend address (an endpoint's ip and resolved target port). `key` is `ip:port`, the identity used for counting. */
export interface Backend {
  readonly ip: string;
  readonly port: number;
  readonly key: string;
}

/** Kubernetes' sessionAffinity, as carried by the snapshot. */
export type SessionAffinity = ServiceEndpoints['sessionAffinity'];

/** What the balancer needs for one service port. */
export interface BalancedService {
  readonly backends: readonly Backend[];
  readonly affinity: SessionAffinity;
}

/** Which address a listener serves; `kind` says why it exists (for status and docs). */
export interface ListenerSpec {
  /** `<protocol> <host>:<port>`: the identity kept across syncs (an unchanged key keeps its socket). */
  readonly key: string;
  readonly protocol: ProxyProtocol;
  readonly host: string;
  readonly port: number;
  readonly serviceKey: string;
  readonly kind: 'clusterIP' | 'externalIP' | 'loadBalancerIP' | 'nodePort' | 'published' | 'instancePort';
}

/** Two service ports claiming one address: the first (in snapshot order) keeps it. */
export interface ListenerConflict {
  readonly key: string;
  readonly serviceKey: string;
  readonly heldBy: string;
}

export interface ProxyTable {
  readonly listeners: ReadonlyMap<string, ListenerSpec>;
  readonly services: ReadonlyMap<string, BalancedService>;
  readonly conflicts: readonly ListenerConflict[];
}

export interface ProxyTableOptions {
  /** Addresses node ports and published ports are opened on. Default ['127.0.0.1']. */
  readonly nodeAddresses?: readonly string[];
}

/** `grid/service:port/PROTO`, the balancer's name for one service port. */
export function serviceKeyOf(service: Pick<ServiceEndpoints, 'grid' | 'service'>, port: number, protocol: ProxyProtocol): string {
  return `${service.grid}/${service.service}:${port}/${protocol}`;
}

export function listenerKeyOf(protocol: ProxyProtocol, host: string, port: number): string {
  return host.includes(':') ? `${protocol} [${host}]:${port}` : `${protocol} ${host}:${port}`;
}

/**
 * Builds the listener and backend tables from a whole snapshot.
 * Backends are the ready endpoints (all endpoints when `publishNotReadyAddresses`, as Kubernetes marks
 * them serving), deduplicated by `ip:port`; an endpoint without a target port for a service port is skipped.
 * ExternalName services get nothing; headless services get no VIP listener but keep external addresses.
 */
export function buildProxyTable(snapshot: EndpointsSnapshot, options: ProxyTableOptions = {}): ProxyTable {
  const nodeAddresses = options.nodeAddresses ?? ['127.0.0.1'];
  const listeners = new Map<string, ListenerSpec>();
  const services = new Map<string, BalancedService>();
  const conflicts: ListenerConflict[] = [];

  const claim = (spec: Omit<ListenerSpec, 'key'>): void => {
    const key = listenerKeyOf(spec.protocol, spec.host, spec.port);
    const held = listeners.get(key);
    if (held !== undefined) {
      if (held.serviceKey !== spec.serviceKey) conflicts.push({ key, serviceKey: spec.serviceKey, heldBy: held.serviceKey });
      return;
    }
    listeners.set(key, { key, ...spec });
  };

  for (const service of snapshot.services) {
    if (service.type === 'ExternalName') continue;
    for (const port of service.ports) {
      const serviceKey = serviceKeyOf(service, port.port, port.protocol);
      const backends: Backend[] = [];
      const seen = new Set<string>();
      for (const endpoint of service.endpoints) {
        if (!endpoint.ready && !service.publishNotReadyAddresses) continue;
        const target = endpoint.ports[port.name];
        if (target === undefined) continue;
        const key = endpoint.ip.includes(':') ? `[${endpoint.ip}]:${target}` : `${endpoint.ip}:${target}`;
        if (seen.has(key)) continue;
        seen.add(key);
        backends.push({ ip: endpoint.ip, port: target, key });
      }
      services.set(serviceKey, { backends, affinity: service.sessionAffinity });

      const base = { protocol: port.protocol, serviceKey } as const;
      if (service.clusterIP !== undefined && !service.headless) claim({ ...base, host: service.clusterIP, port: port.port, kind: 'clusterIP' });
      for (const ip of service.externalIPs) claim({ ...base, host: ip, port: port.port, kind: 'externalIP' });
      for (const ip of service.loadBalancerIPs) claim({ ...base, host: ip, port: port.port, kind: 'loadBalancerIP' });
      if (port.nodePort !== undefined) {
        for (const ip of nodeAddresses) claim({ ...base, host: ip, port: port.nodePort, kind: 'nodePort' });
      }
      if (port.published !== undefined) {
        for (const ip of nodeAddresses) claim({ ...base, host: ip, port: port.published, kind: 'published' });
      }
    }
  }
  // Node-published instance ports: one backend each, the instance behind its node's address.
  for (const f of snapshot.forwards ?? []) {
    const serviceKey = `${f.grid}/${f.service}:instance ${f.instance} ${f.target.port}/${f.protocol}`;
    const ip = f.target.ip;
    services.set(serviceKey, { backends: [{ ip, port: f.target.port, key: ip.includes(':') ? `[${ip}]:${f.target.port}` : `${ip}:${f.target.port}` }], affinity: { type: 'None' } });
    claim({ protocol: f.protocol, serviceKey, host: f.host, port: f.port, kind: 'instancePort' });
  }
  return { listeners, services, conflicts };
}
