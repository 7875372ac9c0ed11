import type { Clock, Logger } from '../lib/index.js';
import type { Service } from '../model/index.js';
import { ServiceNotFoundError } from '../model/index.js';
import type { Store } from '../store/index.js';
import type { NdjsonStream } from './ndjson-stream.js';
import type { Telemetry } from './ports.js';
import type { NetworkRanges } from './network-allocation.js';

/** What every route file gets: the dependencies of createApi, fully defaulted. */
export interface RouteContext {
  readonly store: Store;
  readonly telemetry: Telemetry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly node: string;
  readonly version: string;
  readonly heartbeatMs: number;
  readonly maxStreamBufferBytes: number;
  /** Where virtual IPs and node ports are allocated from. */
  readonly networkRanges: NetworkRanges;
  /** Open NDJSON streams, ended when the API closes. */
  readonly streams: Set<NdjsonStream>;
}

export interface GridParams {
  readonly grid: string;
}

export interface ServiceParams {
  readonly grid: string;
  readonly name: string;
}

/** @throws ServiceNotFoundError (404) */
export function requireService(store: Store, grid: string, name: string): Service {
  const service = store.getService(grid, name);
  if (!service) throw new ServiceNotFoundError(grid, name);
  return service;
}
