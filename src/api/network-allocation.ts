import { CodedError, formatIp, inRange, parseCidr } from '../lib/index.js';
import type { FieldError, HostListener, HostListenerClaim, Service, ServiceSpec } from '../model/index.js';
import { SpecInvalidError, formatFieldError, hostListenersOf, listenerAddress, listenersOverlap } from '../model/index.js';

/** Where virtual IPs and node ports come from. */
export interface NetworkRanges {
  /** Virtual IPs (default 127.96.0.0/16). */
  readonly serviceRange: string;
  /** Node ports, inclusive (Kubernetes' 30000–32767). */
  readonly nodePortRange: readonly [number, number];
}

export const DEFAULT_NETWORK_RANGES: NetworkRanges = { serviceRange: '127.96.0.0/16', nodePortRange: [30000, 32767] };

/** An address:port the server itself listens on (its API, its DNS server): never a service's. */
export interface ReservedListener {
  readonly protocol: 'TCP' | 'UDP';
  readonly host: string;
  readonly port: number;
  /** Who holds it, in words: "the berth API", "berth's DNS server". */
  readonly owner: string;
}

/**
 * The server's own listeners: the API's TCP address (`address` as `server.address()` gives it; none
 * before it listens), the DNS server's `host:port` on TCP and UDP, and the Docker API face's TCP
 * listeners (`options.dockerApi`, as DOCKER_HOST takes them).
 */
export function reservedListeners(
  address: string | { readonly address: string; readonly port: number } | null,
  dnsAddress: string | undefined,
  options: { readonly dockerApi?: readonly string[] } = {},
): ReservedListener[] {
  const out: ReservedListener[] = [];
  if (address !== null && typeof address === 'object') out.push({ protocol: 'TCP', host: address.address, port: address.port, owner: 'the berth API' });
  const dns = dnsAddress === undefined ? null : /^\[?([^\]]*)\]?:(\d+)$/.exec(dnsAddress);
  if (dns) for (const protocol of ['TCP', 'UDP'] as const) out.push({ protocol, host: dns[1] as string, port: Number(dns[2]), owner: "berth's DNS server" });
  // The Docker API face's TCP listeners (`tcp://HOST:PORT`; its unix sockets hold no port).
  for (const listener of options.dockerApi ?? []) {
    const tcp = /^tcp:\/\/\[?([^\]]*)\]?:(\d+)$/.exec(listener);
    if (tcp) out.push({ protocol: 'TCP', host: tcp[1] as string, port: Number(tcp[2]), owner: "berth's Docker API" });
  }
  return out;
}

/**
 * A virtual IP or node port that cannot be had (HTTP 422, as Kubernetes answers): outside its range,
 * or already allocated to another service. `details.causes` holds the field errors in kubectl's words.
 */
export class AllocationError extends CodedError {
  constructor(code: 'PORT_ALLOCATED' | 'ADDRESS_ALLOCATED' | 'ADDRESS_OUT_OF_RANGE' | 'ADDRESS_EXHAUSTED', name: string, causes: readonly FieldError[]) {
    super(code, `Service "${name}" is invalid: ${causes.map(formatFieldError).join('; ')}`, { causes: causes.map((c) => ({ ...c, message: formatFieldError(c) })) });
  }
}

export interface AllocateOptions {
  /** The stored service being updated (its VIP and node ports are kept). */
  readonly current?: Service;
  /** Every other service. */
  readonly others: readonly Service[];
  readonly ranges: NetworkRanges;
  /** The host-listener table (Store.listHostListeners()); the claims of `current` are ignored. Default none. */
  readonly claims?: readonly HostListenerClaim[];
  /** Where node, load-balancer and published ports are opened. Default ['127.0.0.1'] (the proxy's default). */
  readonly nodeAddresses?: readonly string[];
  /** The server's own listeners (API, DNS): a spec may not ask for them. Default none. */
  readonly reserved?: readonly ReservedListener[];
  /**
   * Ports another program on this host holds (TCP listening, UDP bound) at one of the node addresses
   * or the wildcard address: the automatic node-port choice skips them. Called at most once per
   * protocol. Default: none held.
   */
  readonly heldPorts?: (protocol: 'TCP' | 'UDP', hosts: readonly string[]) => ReadonlySet<number>;
  /** The directed broadcast addresses of this host's subnets: refused as external IPs. Default none. */
  readonly broadcastAddresses?: readonly { readonly address: string; readonly subnet: string }[];
}

/**
 * Fills in the network allocations of a spec about to be stored, as Kubernetes' API server does:
 * `clusterIP` (kept from the stored spec, or the one asked for, or the lowest free address of the
 * range) and each port's `nodePort` for NodePort and LoadBalancer services (kept, asked for, or the
 * lowest port of the range that no other service's listener uses on a node address, this spec does
 * not publish, and no other program on this host holds). A ClusterIP service keeps no node ports; ExternalName and headless have
 * no VIP. A node port or published port asked for that another service holds is refused by the store,
 * which claims every host listener in the transaction that stores the spec (HostPortAllocatedError,
 * 422 PORT_ALLOCATED).
 *
 * @throws AllocationError (422) for an address or a node port asked for outside its range
 *   (ADDRESS_OUT_OF_RANGE), an address taken, or nothing free left;
 *   SpecInvalidError (400) when a listener of the spec is one the server itself uses (its API or DNS
 *   address: an external IP, a LoadBalancer port or a node port on it), or an external IP is the
 *   broadcast address of one of this host's subnets (127.255.255.255 for lo).
 */
export function allocateNetwork(spec: ServiceSpec, options: AllocateOptions): ServiceSpec {
  const { current, others, ranges } = options;
  const nodeAddresses = options.nodeAddresses ?? ['127.0.0.1'];
  const claims = (options.claims ?? []).filter((c) => current === undefined || c.grid !== current.grid || c.service !== current.name);
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
      // A new VIP also avoids the addresses other services listen on (an external IP inside the range).
      out.clusterIP = kept ?? lowestFreeIp(ranges.serviceRange, new Set([...takenIps, ...claims.map((c) => c.host)]), spec.name);
    }
  }

  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    // Ports used on a node address by another service's listener (node port, LoadBalancer port, external IP), or by this spec.
    const takenPorts = new Set<string>();
    for (const c of claims) if (nodeAddresses.some((host) => listenersOverlap(c, { protocol: c.protocol, host, port: c.port }))) takenPorts.add(`${c.port}/${c.protocol}`);
    for (const p of spec.ports) {
      if (p.nodePort !== undefined) takenPorts.add(`${p.nodePort}/${p.protocol}`);
      if (p.published !== undefined) takenPorts.add(`${p.published}/${p.protocol}`);
      if (spec.type === 'LoadBalancer') takenPorts.add(`${p.port}/${p.protocol}`);
    }
    const held = new Map<'TCP' | 'UDP', ReadonlySet<number>>();
    const heldBy = (protocol: 'TCP' | 'UDP'): ReadonlySet<number> => {
      let ports = held.get(protocol);
      if (ports === undefined) {
        ports = options.heldPorts?.(protocol, nodeAddresses) ?? new Set();
        held.set(protocol, ports);
      }
      return ports;
    };
    refuseNodePortsOutOfRange(spec, current, ranges.nodePortRange);
    out.ports = spec.ports.map((p) => {
      if (p.nodePort !== undefined) return p;
      const previous = current?.spec.ports.find((c) => c.nodePort !== undefined && c.protocol === p.protocol && (c.name ?? '') === (p.name ?? '') && c.port === p.port);
      const nodePort =
        previous?.nodePort !== undefined && !takenPorts.has(`${previous.nodePort}/${p.protocol}`)
          ? previous.nodePort
          : lowestFreePort(ranges.nodePortRange, (port) => takenPorts.has(`${port}/${p.protocol}`) || heldBy(p.protocol).has(port), spec.name);
      takenPorts.add(`${nodePort}/${p.protocol}`);
      return { ...p, nodePort };
    });
  } else {
    out.ports = spec.ports.map(({ nodePort: _dropped, ...p }) => p);
  }
  refuseHostAddresses(out, { nodeAddresses, reserved: options.reserved ?? [], broadcasts: options.broadcastAddresses ?? [] });
  return out;
}

/**
 * A node port asked for must lie in the range this server allocates from (`range`, inclusive: the
 * server's BERTH_NODE_PORT_RANGE, the moved-aside default when another berth on the machine holds
 * 30000-32767, or the cluster record's on etcd), as Kubernetes' API server checks
 * `--service-node-port-range`. A node port the stored service already has (`current`) is kept without
 * the check, as Kubernetes keeps allocated ports when the range changes: an update that sends the
 * stored spec back is never refused for it.
 *
 * @throws AllocationError ADDRESS_OUT_OF_RANGE (422) naming each field, the range and the fix.
 */
function refuseNodePortsOutOfRange(spec: ServiceSpec, current: Service | undefined, range: readonly [number, number]): void {
  const kept = new Set((current?.spec.ports ?? []).flatMap((c) => (c.nodePort === undefined ? [] : [`${c.nodePort}/${c.protocol}`])));
  const causes: FieldError[] = [];
  spec.ports.forEach((p, i) => {
    if (p.nodePort === undefined || (p.nodePort >= range[0] && p.nodePort <= range[1]) || kept.has(`${p.nodePort}/${p.protocol}`)) return;
    causes.push({
      field: `spec.ports[${i}].nodePort`,
      type: 'Invalid value',
      value: p.nodePort,
      detail: `provided port is not in the valid range. The range of valid ports is ${range[0]}-${range[1]} (this server's node-port range, BERTH_NODE_PORT_RANGE): pick a port in it, or leave nodePort out to have one allocated`,
    });
  });
  if (causes.length > 0) throw new AllocationError('ADDRESS_OUT_OF_RANGE', spec.name, causes);
}

/** @throws SpecInvalidError (400) naming each field whose listener is the server's own, or whose external IP is a subnet's broadcast address. */
function refuseHostAddresses(
  spec: ServiceSpec,
  { nodeAddresses, reserved, broadcasts }: { readonly nodeAddresses: readonly string[]; readonly reserved: readonly ReservedListener[]; readonly broadcasts: readonly { readonly address: string; readonly subnet: string }[] },
): void {
  const errors: FieldError[] = [];
  spec.externalIPs.forEach((ip, i) => {
    const b = broadcasts.find((x) => x.address === ip);
    if (b) errors.push({ field: `spec.externalIPs[${i}]`, type: 'Invalid value', value: ip, detail: `may not be a broadcast address (it is the broadcast address of ${b.subnet} on this host): give a unicast address` });
  });
  for (const l of hostListenersOf(spec, nodeAddresses)) {
    const mine = reserved.find((r) => listenersOverlap(l, r));
    if (!mine || errors.some((e) => e.field === l.field)) continue;
    errors.push({ field: l.field, type: 'Invalid value', value: shownValue(l), detail: `${listenerAddress(l)} is ${mine.owner}'s own address (${listenerAddress(mine)}); give another ${l.kind === 'externalIP' ? 'address or port' : 'port'}` });
  }
  if (errors.length > 0) throw new SpecInvalidError('Service', spec.name, errors);
}

function shownValue(l: HostListener): string | number {
  return l.kind === 'externalIP' || l.kind === 'clusterIP' ? l.host : l.port;
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

function lowestFreePort(range: readonly [number, number], taken: (port: number) => boolean, name: string): number {
  for (let port = range[0]; port <= range[1]; port++) if (!taken(port)) return port;
  throw new AllocationError('ADDRESS_EXHAUSTED', name, [
    { field: 'spec.ports', type: 'Invalid value', value: '', detail: `no free node port left in ${range[0]}-${range[1]} (0 of ${range[1] - range[0] + 1} left); remove a service's node ports, or widen BERTH_NODE_PORT_RANGE` },
  ]);
}
