import { CodedError, formatIp, inRange, parseCidr } from '../lib/index.js';
import type { FieldError, Service, ServiceSpec } from '../model/index.js';
import { formatFieldError } from '../model/index.js';

/** Where virtual IPs and node ports come from. */
export interface NetworkRanges {
  /** Virtual IPs (default 127.96.0.0/16). */
  readonly serviceRange: string;
  /** Node ports, inclusive (Kubernetes' 30000–32767). */
  readonly nodePortRange: readonly [number, number];
}

export const DEFAULT_NETWORK_RANGES: NetworkRanges = { serviceRange: '127.96.0.0/16', nodePortRange: [30000, 32767] };

/**
 * A virtual IP or node port that cannot be had (HTTP 422, as Kubernetes answers): outside its range,
 * or already allocated to another service. `details.causes` holds the field errors in kubectl's words.
 */
export class AllocationError extends CodedError {
  constructor(code: 'PORT_ALLOCATED' | 'ADDRESS_ALLOCATED' | 'ADDRESS_OUT_OF_RANGE' | 'ADDRESS_EXHAUSTED', name: string, causes: readonly FieldError[]) {
    super(code, `Service "${name}" is invalid: ${causes.map(formatFieldError).join('; ')}`, { causes: causes.map((c) => ({ ...c, message: formatFieldError(c) })) });
  }
}

/**
 * Fills in the network allocations of a spec about to be stored, as Kubernetes' API server does:
 * `clusterIP` (kept from the stored spec, or the one asked for, or the lowest free address of the
 * range) and each port's `nodePort` for NodePort and LoadBalancer services (kept, asked for, or the
 * lowest free port). A ClusterIP service keeps no node ports; ExternalName and headless have no VIP.
 *
 * Runs inside one synchronous request handler: the store is read and written with no await between,
 * so two requests cannot take the same address.
 * @throws AllocationError (422) for an address outside the range or taken, or a node port taken.
 */
export function allocateNetwork(spec: ServiceSpec, options: { current?: Service; others: readonly Service[]; ranges: NetworkRanges }): ServiceSpec {
  const { current, others, ranges } = options;
  const out: { -readonly [K in keyof ServiceSpec]: ServiceSpec[K] } = { ...spec };

  if (spec.type === 'ExternalName') {
    delete out.clusterIP;
  } else if (spec.clusterIP !== 'None') {
    const takenIps = new Set(others.map((s) => s.spec.clusterIP).filter((ip): ip is string => ip !== undefined && ip !== 'None'));
    const asked = spec.clusterIP !== undefined && spec.clusterIP !== '' ? spec.clusterIP : undefined;
    const kept = current?.spec.clusterIP !== undefined && current.spec.clusterIP !== 'None' ? current.spec.clusterIP : undefined;
    if (asked !== undefined) {
      if (!inRange(asked, ranges.serviceRange)) {
        throw new AllocationError('ADDRESS_OUT_OF_RANGE', spec.name, [
          { field: 'spec.clusterIP', type: 'Invalid value', value: asked, detail: `provided IP is not in the valid range. The range of valid IPs is ${ranges.serviceRange}` },
        ]);
      }
      if (takenIps.has(asked)) {
        throw new AllocationError('ADDRESS_ALLOCATED', spec.name, [{ field: 'spec.clusterIP', type: 'Invalid value', value: asked, detail: 'provided IP is already allocated' }]);
      }
      out.clusterIP = asked;
    } else {
      out.clusterIP = kept ?? lowestFreeIp(ranges.serviceRange, takenIps, spec.name);
    }
  }

  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    const takenPorts = new Set<string>();
    for (const s of others) for (const p of s.spec.ports) if (p.nodePort !== undefined) takenPorts.add(`${p.nodePort}/${p.protocol}`);
    const errors: FieldError[] = [];
    spec.ports.forEach((p, i) => {
      if (p.nodePort === undefined) return;
      if (takenPorts.has(`${p.nodePort}/${p.protocol}`)) errors.push({ field: `spec.ports[${i}].nodePort`, type: 'Invalid value', value: p.nodePort, detail: 'provided port is already allocated' });
      takenPorts.add(`${p.nodePort}/${p.protocol}`);
    });
    if (errors.length > 0) throw new AllocationError('PORT_ALLOCATED', spec.name, errors);
    out.ports = spec.ports.map((p) => {
      if (p.nodePort !== undefined) return p;
      const previous = current?.spec.ports.find((c) => c.nodePort !== undefined && c.protocol === p.protocol && (c.name ?? '') === (p.name ?? '') && c.port === p.port);
      const nodePort = previous?.nodePort !== undefined && !takenPorts.has(`${previous.nodePort}/${p.protocol}`) ? previous.nodePort : lowestFreePort(ranges.nodePortRange, takenPorts, p.protocol, spec.name);
      takenPorts.add(`${nodePort}/${p.protocol}`);
      return { ...p, nodePort };
    });
  } else {
    out.ports = spec.ports.map(({ nodePort: _dropped, ...p }) => p);
  }
  return out;
}

function lowestFreeIp(range: string, taken: ReadonlySet<string>, name: string): string {
  const { first, last } = parseCidr(range);
  for (let n = first; n <= last; n++) {
    const ip = formatIp(n);
    if (!taken.has(ip)) return ip;
  }
  throw new AllocationError('ADDRESS_EXHAUSTED', name, [
    { field: 'spec.clusterIP', type: 'Invalid value', value: '', detail: `no free address left in the service range ${range} (0 of ${last - first + 1} addresses left); remove a service, make this one headless (clusterIP: None), or widen BERTH_SERVICE_RANGE` },
  ]);
}

function lowestFreePort(range: readonly [number, number], taken: ReadonlySet<string>, protocol: string, name: string): number {
  for (let port = range[0]; port <= range[1]; port++) if (!taken.has(`${port}/${protocol}`)) return port;
  throw new AllocationError('ADDRESS_EXHAUSTED', name, [
    { field: 'spec.ports', type: 'Invalid value', value: '', detail: `no free node port left in ${range[0]}-${range[1]} (0 of ${range[1] - range[0] + 1} left); remove a service's node ports, or widen BERTH_NODE_PORT_RANGE` },
  ]);
}

