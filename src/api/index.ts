export type { ApiDeps, ErrorBody } from './create-api.js';
export { createApi } from './create-api.js';
export { ERROR_STATUS } from './error-status.js';
export type { EndpointsView, HostPortProbe, Telemetry } from './ports.js';
export { FakeTelemetry } from './fake-telemetry.js';
export type { NetworkRanges, ReservedListener } from './network-allocation.js';
export { DEFAULT_NETWORK_RANGES, allocateNetwork, AllocationError } from './network-allocation.js';
