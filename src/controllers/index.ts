export type { ServiceControllerOptions } from './service-controller.js';
export { ServiceController } from './service-controller.js';
export { AddressAllocator } from './address-allocator.js';
