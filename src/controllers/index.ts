export type { ServiceControllerOptions } from './service-controller.js';
export { ServiceController } from './service-controller.js';
export { AddressAllocator, parseCidr, formatIp, parseIp } from './address-allocator.js';
