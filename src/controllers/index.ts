export type { ServiceControllerOptions } from './service-controller.js';
export { ServiceController } from './service-controller.js';
export { AddressAllocator } from './address-allocator.js';
export type { NodeControllerOptions } from './node-controller.js';
export { NodeController, DEFAULT_NODE_GRACE_MS } from './node-controller.js';
