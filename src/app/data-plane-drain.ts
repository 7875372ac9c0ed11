import type { DataPlane } from '../agent/index.js';
import type { EndpointsSnapshot, Instance } from '../model/index.js';

/** What the drain needs of the proxy (ServiceProxy): its connection counts per backend. */
export interface ProxyConnections {
  /** Active (connected) TCP connections to one backend. */
  activeConnections(ip: string, port: number): number;
  /** Resolves when the backend has no active TCP connections; rejects with `signal.reason` when aborted. */
  whenDrained(ip: string, port: number, signal?: AbortSignal): Promise<void>;
}

/** What the drain needs of the EndpointsPublisher. */
export interface AppliedSnapshots {
  /** Resolves once every sink (proxy and DNS) applied a snapshot of a store revision ≥ `revision`. */
  whenApplied(revision: number, signal?: AbortSignal): Promise<void>;
  /** The last snapshot handed out. */
  current(): EndpointsSnapshot | undefined;
}

/** Rounds of waiting for backends to drain before giving up on a proxy that never settles (safety bound). */
const MAX_DRAIN_ROUNDS = 1000;

/**
 * The agent's DataPlane on this node's endpoints publisher and proxy:
 * - whenRemoved: the publisher has handed proxy and DNS a snapshot at least as new as the instance
 *   record that set its desired state to shutdown (from then on it is not a ready endpoint anywhere);
 * - connections / whenDrained: the proxy's open connections to the instance's address, over its
 *   target ports in the last snapshot and its containers' declared ports (a service being removed is
 *   no longer in the snapshot; its instances' connections still count).
 */
export function dataPlaneDrain(publisher: AppliedSnapshots, proxy: ProxyConnections): DataPlane {
  const portsOf = (instance: Instance): number[] => {
    const ports = new Set<number>();
    for (const c of instance.spec.containers) for (const p of c.ports) if (p.protocol === 'TCP') ports.add(p.containerPort);
    for (const service of publisher.current()?.services ?? []) {
      for (const e of service.endpoints) {
        if (e.ip !== instance.spec.address) continue;
        for (const port of Object.values(e.ports)) ports.add(port);
      }
    }
    return [...ports];
  };
  const connections = (instance: Instance): number => portsOf(instance).reduce((sum, port) => sum + proxy.activeConnections(instance.spec.address, port), 0);
  return {
    whenRemoved: (instance, signal) => publisher.whenApplied(instance.version, signal),
    connections,
    async whenDrained(instance, signal) {
      const ip = instance.spec.address;
      for (let round = 0; round < MAX_DRAIN_ROUNDS; round++) {
        const open = portsOf(instance).filter((port) => proxy.activeConnections(ip, port) > 0);
        if (open.length === 0) return;
        await Promise.all(open.map((port) => proxy.whenDrained(ip, port, signal)));
      }
    },
  };
}
