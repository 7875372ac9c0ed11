import type { Endpoint, ServiceEndpoints } from '../model/index.js';

/**
 * The `ip:port` strings of one endpoint, one per distinct target port of the service's ports (as
 * `kubectl get endpoints` shows them); the bare `ip` when the service has no ports.
 */
export function endpointAddresses(endpoint: Endpoint): string[] {
  const ports = [...new Set(Object.values(endpoint.ports))];
  return ports.length === 0 ? [endpoint.ip] : ports.map((p) => `${endpoint.ip}:${p}`);
}

/** Ready and not-ready `ip:port` lists of a service, in the server's order. */
export function splitEndpoints(endpoints: ServiceEndpoints): { ready: string[]; notReady: string[] } {
  const ready = endpoints.endpoints.filter((e) => e.ready).flatMap(endpointAddresses);
  const notReady = endpoints.endpoints.filter((e) => !e.ready).flatMap(endpointAddresses);
  return { ready, notReady };
}

/** kubectl's short form: the first `max` addresses, then `+ N more...`; `<none>` for none. */
export function abbreviateAddresses(addresses: readonly string[], max = 3): string {
  if (addresses.length === 0) return '<none>';
  const shown = addresses.slice(0, max).join(',');
  return addresses.length > max ? `${shown} + ${addresses.length - max} more...` : shown;
}
