import type { Instance, NodeInfo, Service, ServiceEvent } from '../model/index.js';

/**
 * One change streamed by `GET /v1/watch`: the value after the change (before it, for a delete).
 * `revision` is the store-wide revision of the change; resume a broken watch with
 * `fromRevision: lastRevision + 1`.
 *
 * The same shape as the store's WatchEvent (store/store.ts), spelled again here because client/ may
 * import only model types: the route table (docs/api.md) is the contract between the two.
 */
export type WatchEvent =
  | { readonly revision: number; readonly kind: 'service'; readonly op: 'put' | 'delete'; readonly key: string; readonly object: Service }
  | { readonly revision: number; readonly kind: 'instance'; readonly op: 'put' | 'delete'; readonly key: string; readonly object: Instance }
  | { readonly revision: number; readonly kind: 'node'; readonly op: 'put' | 'delete'; readonly key: string; readonly object: NodeInfo }
  | { readonly revision: number; readonly kind: 'event'; readonly op: 'put'; readonly key: string; readonly object: ServiceEvent };
