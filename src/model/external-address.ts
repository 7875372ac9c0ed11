import { parseIp } from '../lib/index.js';

/**
 * Why an IPv4 address may not be a service's external IP, or undefined when it may. berth binds a
 * listener to each external IP, so an address that is not one host address is refused (as Kubernetes'
 * ValidateNonSpecialIP refuses 0.0.0.0 for externalIPs):
 * - unspecified, 0.0.0.0/8 ("this network", RFC 1122): 0.0.0.0 would take the port on every address
 *   of the host, the API's and DNS's included;
 * - multicast, 224.0.0.0/4: a group, not a host; a TCP listener there never accepts;
 * - the limited broadcast address 255.255.255.255.
 * Loopback addresses are allowed: berth's whole single-machine model runs on 127.0.0.0/8.
 */
export function externalIpProblem(ip: string): string | undefined {
  const n = parseIp(ip);
  const first = n >>> 24;
  if (first === 0) {
    return 'may not be unspecified (0.0.0.0/8): a listener on it would take the port on every address of this host; give the one address the service should be served on';
  }
  if (first >= 224 && first <= 239) return 'may not be a multicast address (224.0.0.0/4): give a unicast address of this host';
  if (n === 0xffffffff) return 'may not be the broadcast address (255.255.255.255): give a unicast address of this host';
  return undefined;
}
