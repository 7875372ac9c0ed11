import type { ServicePort, ServiceSpec } from './service-spec.js';

/** A service port with the spec field it comes from (for error messages that name the field). */
export interface ServicePortAt {
  readonly port: ServicePort;
  /** `spec.ports[1]`, or for an implicit port `spec.containers[0].ports[2]`. */
  readonly field: string;
}

/**
 * The service ports of a spec: its `ports`, or when it declares none its containers' ports, each as a
 * service port of the same number and name (a plain berth service is reachable on the ports its
 * processes listen on), deduplicated by port/protocol. The one rule for DNS, the proxy, discovery
 * variables and the host-listener table.
 */
export function servicePortsAt(spec: ServiceSpec): ServicePortAt[] {
  if (spec.ports.length > 0) return spec.ports.map((port, i) => ({ port, field: `spec.ports[${i}]` }));
  const all = spec.containers.flatMap((c, ci) => c.ports.map((cp, pi) => ({ cp, field: `spec.containers[${ci}].ports[${pi}]` })));
  const seen = new Set<string>();
  const out: ServicePortAt[] = [];
  for (const { cp, field } of all) {
    const key = `${cp.containerPort}/${cp.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const name = cp.name ?? (all.length > 1 ? `${cp.protocol.toLowerCase()}-${cp.containerPort}` : undefined);
    out.push({ port: { ...(name !== undefined ? { name } : {}), protocol: cp.protocol, port: cp.containerPort, targetPort: cp.containerPort }, field });
  }
  return out;
}

/** `servicePortsAt` without the fields. */
export function servicePortsOf(spec: ServiceSpec): ServicePort[] {
  return servicePortsAt(spec).map((p) => p.port);
}
