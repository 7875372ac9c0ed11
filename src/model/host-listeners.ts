import { CodedError } from '../lib/index.js';
import type { FieldError } from './field-error.js';
import { formatFieldError } from './field-error.js';
import type { ServiceSpec } from './service-spec.js';
import { servicePortsAt } from './service-ports.js';

/*
 * Every host listener berth opens for a service — its virtual IP, external IPs, load-balancer
 * addresses and node ports — derived from the stored spec. The store keeps them in one allocation
 * table, written in the transaction that stores the spec, so that two services can never be given the
 * same address:port (ARCHITECTURE.md: "allocation of VIPs, node ports and host listeners happens
 * inside a store transaction"); the proxy opens exactly these.
 */

/** Why berth opens a listener; the same words as the proxy's ListenerSpec.kind. */
export type HostListenerKind = 'clusterIP' | 'externalIP' | 'loadBalancerIP' | 'nodePort' | 'published' | 'instancePort';

/** One address:port a service's spec asks berth to listen on. */
export interface HostListener {
  readonly protocol: 'TCP' | 'UDP';
  readonly host: string;
  readonly port: number;
  readonly kind: HostListenerKind;
  /** The spec field that asks for it: `spec.externalIPs[1]`, `spec.ports[0].nodePort`, `spec.ports[0].published`, `spec.ports[0].port` (LoadBalancer), `spec.clusterIP`. */
  readonly field: string;
  /** The service port it serves (`80/TCP`): one service port may be asked for twice on one address (an external IP that is also a node address), two different ones may not. */
  readonly servicePort: string;
}

/** A host listener as the allocation table holds it: with the service that owns it. */
export interface HostListenerClaim extends HostListener {
  readonly grid: string;
  readonly service: string;
}

/** Addresses that mean "every address of the host" when bound. */
const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::']);

/**
 * The host listeners of a spec, as the proxy opens them (proxy-table.ts' rules): for each service port,
 * the virtual IP (unless headless), each external IP, for a LoadBalancer service each node address at
 * the service port, for a NodePort or LoadBalancer service each node address at the node port, and for
 * a port with `published` (any type) each node address at the published port. ExternalName services
 * have none. Deduplicated by protocol, host, port and service port.
 * @param nodeAddresses  where node, load-balancer and published ports are opened (berth server: 127.0.0.1).
 */
export function hostListenersOf(spec: ServiceSpec, nodeAddresses: readonly string[]): HostListener[] {
  if (spec.type === 'ExternalName') return [];
  const out: HostListener[] = [];
  const seen = new Set<string>();
  const add = (l: HostListener): void => {
    const key = `${listenerAddress(l)} ${l.servicePort}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(l);
  };
  const vip = spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== 'None' ? spec.clusterIP : undefined;
  for (const { port: p, field } of servicePortsAt(spec)) {
    const base = { protocol: p.protocol, servicePort: `${p.port}/${p.protocol}` } as const;
    if (vip !== undefined) add({ ...base, host: vip, port: p.port, kind: 'clusterIP', field: 'spec.clusterIP' });
    spec.externalIPs.forEach((ip, i) => add({ ...base, host: ip, port: p.port, kind: 'externalIP', field: `spec.externalIPs[${i}]` }));
    if (spec.type === 'LoadBalancer') for (const ip of nodeAddresses) add({ ...base, host: ip, port: p.port, kind: 'loadBalancerIP', field: `${field}.port` });
    if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort !== undefined) {
      for (const ip of nodeAddresses) add({ ...base, host: ip, port: p.nodePort, kind: 'nodePort', field: `${field}.nodePort` });
    }
    if (p.published !== undefined) for (const ip of nodeAddresses) add({ ...base, host: ip, port: p.published, kind: 'published', field: `${field}.published` });
  }
  return out;
}

/**
 * True when two listeners cannot both be bound: same protocol and port, and the same address or one of
 * them the wildcard (0.0.0.0 or ::, which takes the port on every address).
 */
export function listenersOverlap(a: Pick<HostListener, 'protocol' | 'host' | 'port'>, b: Pick<HostListener, 'protocol' | 'host' | 'port'>): boolean {
  return a.protocol === b.protocol && a.port === b.port && (a.host === b.host || WILDCARDS.has(a.host) || WILDCARDS.has(b.host));
}

/** `TCP 127.0.0.1:30000`, `UDP [::1]:53`: how a listener is named in messages (the proxy's listener key). */
export function listenerAddress(l: Pick<HostListener, 'protocol' | 'host' | 'port'>): string {
  return l.host.includes(':') ? `${l.protocol} [${l.host}]:${l.port}` : `${l.protocol} ${l.host}:${l.port}`;
}

/** The value a field error shows for a listener: the node port or port number, or the address. */
function shownValue(l: HostListener): string | number {
  if (l.kind === 'nodePort' || l.kind === 'loadBalancerIP' || l.kind === 'published') return l.port;
  return l.host;
}

/**
 * A host listener asked for that another service holds (HTTP 422, code PORT_ALLOCATED, as Kubernetes
 * answers for a node port): `spec.externalIPs[0]: Invalid value: "127.0.0.5": provided port is already
 * allocated (TCP 127.0.0.5:80 is served for service default/web, its spec.externalIPs[0])`.
 * `details.causes` holds the field errors.
 */
export class HostPortAllocatedError extends CodedError {
  readonly causes: readonly FieldError[];
  constructor(name: string, conflicts: readonly { readonly wanted: HostListener; readonly heldBy: HostListenerClaim | 'itself' }[]) {
    const causes = dedupeFields(
      conflicts.map(({ wanted, heldBy }): FieldError => ({
        field: wanted.field,
        type: 'Invalid value',
        value: shownValue(wanted),
        detail:
          heldBy === 'itself'
            ? `provided port is already allocated (${listenerAddress(wanted)} is asked for by two ports of this service)`
            : `provided port is already allocated (${listenerAddress(heldBy)} is served for service ${heldBy.grid}/${heldBy.service}, its ${heldBy.field})`,
      })),
    );
    super('PORT_ALLOCATED', `Service "${name}" is invalid: ${causes.map(formatFieldError).join('; ')}`, { causes: causes.map((c) => ({ ...c, message: formatFieldError(c) })) });
    this.causes = causes;
  }
}

function dedupeFields(errors: readonly FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => (seen.has(e.field) ? false : (seen.add(e.field), true)));
}

/**
 * The conflicts of `wanted` (one service's listeners) among themselves and with `held` (every other
 * service's claims): what `HostPortAllocatedError` reports. Pure; the store runs it in its transaction.
 */
export function hostListenerConflicts(wanted: readonly HostListener[], held: readonly HostListenerClaim[]): { readonly wanted: HostListener; readonly heldBy: HostListenerClaim | 'itself' }[] {
  const out: { wanted: HostListener; heldBy: HostListenerClaim | 'itself' }[] = [];
  wanted.forEach((w, i) => {
    const other = held.find((h) => listenersOverlap(w, h));
    if (other) out.push({ wanted: w, heldBy: other });
    else if (wanted.some((x, j) => j < i && x.servicePort !== w.servicePort && listenersOverlap(w, x))) out.push({ wanted: w, heldBy: 'itself' });
  });
  return out;
}
