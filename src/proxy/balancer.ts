import type { Clock } from '../lib/index.js';
import { systemClock } from '../lib/index.js';
import type { Backend, BalancedService, SessionAffinity } from './proxy-table.js';

/** As Kubernetes: sessionAffinity ClientIP timeoutSeconds defaults to 10800 s. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

interface StickyEntry {
  backend: Backend;
  /** ms since the epoch of the last pick for this client; the entry expires after timeoutSeconds idle. */
  lastUsed: number;
}

interface ServiceState {
  backends: readonly Backend[];
  byKey: Map<string, Backend>;
  affinity: SessionAffinity;
  cursor: number;
  sticky: Map<string, StickyEntry>;
  insertsSincePrune: number;
}

export interface BalancerOptions {
  readonly clock?: Clock;
}

/**
 * Picks a backend per new connection or UDP flow: round robin over the service's backends, or with
 * ClientIP affinity the client's previous backend while it is still a backend and was used within
 * timeoutSeconds. Tables are replaced whole by `update`; cursors and sticky entries survive for
 * service ports that remain.
 */
export class Balancer {
  private readonly clock: Clock;
  private services = new Map<string, ServiceState>();

  constructor(options: BalancerOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Replaces every service's backends (the whole table, never a diff). */
  update(table: ReadonlyMap<string, BalancedService>): void {
    const next = new Map<string, ServiceState>();
    const now = this.clock.now();
    for (const [key, service] of table) {
      const old = this.services.get(key);
      const byKey = new Map(service.backends.map((b) => [b.key, b] as const));
      const state: ServiceState = {
        backends: service.backends,
        byKey,
        affinity: service.affinity,
        cursor: old === undefined || service.backends.length === 0 ? 0 : old.cursor % service.backends.length,
        sticky: old !== undefined && service.affinity.type === 'ClientIP' ? old.sticky : new Map(),
        insertsSincePrune: 0,
      };
      prune(state, now);
      next.set(key, state);
    }
    this.services = next;
  }

  /** Whether `next` looks at the client address for this service port (ClientIP affinity). */
  usesClientAddress(serviceKey: string): boolean {
    return this.services.get(serviceKey)?.affinity.type === 'ClientIP';
  }

  /**
   * The backend for a new connection from `clientAddress`, or for its next attempt: `tried` holds the
   * keys of the backends this connection already tried (they refused or failed), which are skipped —
   * a sticky entry pointing at one moves to the round-robin pick. Undefined when the service has no
   * backend left that was not tried.
   */
  next(serviceKey: string, clientAddress: string, tried: readonly string[] = []): Backend | undefined {
    const state = this.services.get(serviceKey);
    if (state === undefined || state.backends.length === 0) return undefined;
    if (state.affinity.type === 'None') return roundRobin(state, tried);

    const now = this.clock.now();
    const timeoutMs = (state.affinity.timeoutSeconds || DEFAULT_AFFINITY_TIMEOUT_SECONDS) * 1000;
    const entry = state.sticky.get(clientAddress);
    if (entry !== undefined && now - entry.lastUsed < timeoutMs && state.byKey.has(entry.backend.key) && !tried.includes(entry.backend.key)) {
      entry.lastUsed = now;
      return entry.backend;
    }
    const backend = roundRobin(state, tried);
    if (backend === undefined) return undefined;
    if (entry !== undefined) {
      entry.backend = backend;
      entry.lastUsed = now;
    } else {
      state.sticky.set(clientAddress, { backend, lastUsed: now });
      if (++state.insertsSincePrune >= 1024) prune(state, now);
    }
    return backend;
  }
}

/** The next backend in round-robin order not in `tried` (undefined: every backend was tried). */
function roundRobin(state: ServiceState, tried: readonly string[]): Backend | undefined {
  const n = state.backends.length;
  for (let k = 0; k < n; k++) {
    const backend = state.backends[state.cursor % n] as Backend;
    state.cursor = (state.cursor + 1) % n;
    if (!tried.includes(backend.key)) return backend;
  }
  return undefined;
}

/** Drops sticky entries that expired or point at a backend that left, so the map stays bounded. */
function prune(state: ServiceState, now: number): void {
  state.insertsSincePrune = 0;
  if (state.affinity.type !== 'ClientIP') {
    state.sticky.clear();
    return;
  }
  const timeoutMs = (state.affinity.timeoutSeconds || DEFAULT_AFFINITY_TIMEOUT_SECONDS) * 1000;
  for (const [client, entry] of state.sticky) {
    if (now - entry.lastUsed >= timeoutMs || !state.byKey.has(entry.backend.key)) state.sticky.delete(client);
  }
}
