/*
 * What the data plane (dns/, proxy/) is fed: whole snapshots of every service's network face and
 * endpoints, built by app/ from the store. The data plane never reads the store; it rebuilds its
 * tables from each snapshot (kube-proxy's model), never from diffs.
 */

/** One port of a service as the data plane serves it. */
export interface EndpointPort {
  /** Port name (SRV `_<name>._<proto>`); empty when the service has a single unnamed port. */
  readonly name: string;
  readonly protocol: 'TCP' | 'UDP';
  /** The service port: what clients connect to on the VIP, external and load-balancer addresses. */
  readonly port: number;
  /** Node port (30000–32767) for NodePort and LoadBalancer services. */
  readonly nodePort?: number;
  /** Published port (1–65535, any service type): served on the node's addresses, as a node port is. */
  readonly published?: number;
}

/** One instance behind a service. `ports` maps a service port name to the instance's target port. */
export interface Endpoint {
  readonly ip: string;
  /** Target port per service port name (targetPort resolved against the instance's container ports). */
  readonly ports: Readonly<Record<string, number>>;
  /** Ready endpoints get traffic; not-ready ones are listed apart (and served only with publishNotReadyAddresses). */
  readonly ready: boolean;
  /** For per-instance DNS names (`<service>-<slot>.<grid>.<domain>`); absent for hand-set endpoints. */
  readonly slot?: number;
  readonly instance?: string;
}

export interface ServiceEndpoints {
  readonly grid: string;
  readonly service: string;
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** The virtual IP; undefined for headless services (clusterIP: None) and ExternalName. */
  readonly clusterIP?: string;
  readonly headless: boolean;
  /** ExternalName: the CNAME target. */
  readonly externalName?: string;
  readonly externalIPs: readonly string[];
  /** Load-balancer ingress addresses (the node's external addresses for LoadBalancer services). */
  readonly loadBalancerIPs: readonly string[];
  readonly ports: readonly EndpointPort[];
  readonly endpoints: readonly Endpoint[];
  /** Kubernetes' sessionAffinity; timeoutSeconds defaults to 10800 (max 86400). */
  readonly sessionAffinity: { readonly type: 'None' } | { readonly type: 'ClientIP'; readonly timeoutSeconds: number };
  readonly publishNotReadyAddresses: boolean;
}

/**
 * A node-published instance port this node's proxy forwards (InstanceSpec.hostPorts): other nodes
 * reach the instance's `target` at `host:port`, one of this node's addresses.
 */
export interface InstanceForward {
  readonly grid: string;
  readonly service: string;
  readonly instance: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly host: string;
  readonly port: number;
  readonly target: { readonly ip: string; readonly port: number };
}

/** Every service's endpoints at one store revision. */
export interface EndpointsSnapshot {
  readonly revision: number;
  readonly services: readonly ServiceEndpoints[];
  /** Node-published ports of this node's instances, when the cluster has other nodes. */
  readonly forwards?: readonly InstanceForward[];
}
