export type { ServiceProxyOptions, ListenerStatus, ListenerState, ProxyEngine, ProxyError, RelayStatus } from './service-proxy.js';
export { ServiceProxy, defaultProxyThreads } from './service-proxy.js';
export type { BalancerOptions } from './balancer.js';
export { Balancer, DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './balancer.js';
export type { Backend, BalancedService, ListenerSpec, ListenerConflict, ProxyTable, ProxyTableOptions, ProxyProtocol, SessionAffinity } from './proxy-table.js';
export { buildProxyTable, serviceKeyOf, listenerKeyOf } from './proxy-table.js';
export type { HostSocket, SubnetBroadcast } from './host-sockets.js';
export { readHostSockets, heldPorts, subnetBroadcasts } from './host-sockets.js';
