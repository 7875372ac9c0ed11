import type { DataPlane } from '../agent/index.js';
import type { Logger } from '../lib/index.js';
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

/**
 * The drain barrier across nodes (docs/nodes.md): `local`'s drain, whose `whenRemoved` also waits until
 * every other node's data plane applied the instance's removal (`behind` answers the nodes still
 * behind once none is, or when it gives up). A barrier that fails or gives up is logged and the stop
 * goes on: it bounds the drain, it never blocks it.
 */
export function withClusterBarrier(local: DataPlane, behind: (revision: number, signal: AbortSignal) => Promise<string[]>, logger: Logger): DataPlane {
  return {
    ...local,
    async whenRemoved(instance, signal) {
      await local.whenRemoved(instance, signal);
      try {
        const late = await behind(instance.version, signal);
        if (late.length > 0 && !signal.aborted) logger.warn({ instance: instance.id, nodes: late }, 'the data planes of these nodes had not dropped the instance in time; it stops anyway');
      } catch (error) {
        if (!signal.aborted) logger.warn({ err: error, instance: instance.id }, 'the drain barrier across nodes could not be asked; only this node\'s data plane was waited for');
      }
    },
  };
}

/** How often a node's data plane says again what it applied (a report older than DATA_PLANE_STALE_MS no longer counts). */
export const DATA_PLANE_REFRESH_MS = 2000;
export const DATA_PLANE_STALE_MS = 10_000;

/**
 * Sends the revisions a node's data plane applied to the server: the newest only, one request at a
 * time (a burst of snapshots is one report), again after a failure with the next snapshot, and every
 * DATA_PLANE_REFRESH_MS while nothing changes (so that the server can tell a live data plane from a
 * gone one). `stop` ends the refresh.
 */
export function dataPlaneReporter(send: (revision: number) => Promise<void>, logger: Logger): { report: (revision: number) => void; stop: () => void } {
  let latest = 0;
  let sent = 0;
  let sending = false;
  const pump = async (): Promise<void> => {
    sending = true;
    try {
      while (latest > sent) {
        const revision = latest;
        try {
          await send(revision);
          sent = revision;
        } catch (error) {
          logger.debug({ err: error, revision }, 'reporting the data plane\'s revision failed; the next snapshot reports again');
          return;
        }
      }
    } finally {
      sending = false;
    }
  };
  const report = (revision: number): void => {
    if (revision > latest) latest = revision;
    if (!sending) void pump();
  };
  const timer = setInterval(() => {
    if (latest === 0 || sending) return;
    sent = 0;
    void pump();
  }, DATA_PLANE_REFRESH_MS);
  timer.unref();
  return { report, stop: () => clearInterval(timer) };
}
