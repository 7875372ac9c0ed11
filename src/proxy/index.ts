export type { ServiceProxyOptions, ListenerStatus, ListenerState, ProxyError, WorkerStatus } from './service-proxy.js';
export { ServiceProxy, defaultProxyWorkers } from './service-proxy.js';
export type { BalancerOptions } from './balancer.js';
export { Balancer, DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './balancer.js';
export type { Backend, BalancedService, ListenerSpec, ListenerConflict, ProxyTable, ProxyTableOptions, ProxyProtocol, SessionAffinity } from './proxy-table.js';
export { buildProxyTable, serviceKeyOf, listenerKeyOf } from './proxy-table.js';
