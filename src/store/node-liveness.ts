/**
 * When each node's agent last said it is alive (its heartbeat), kept apart from the node records so
 * that a heartbeat every few seconds per node is not a store write and a watch event each (Kubernetes
 * moved node heartbeats to Lease objects for the same reason; swarmkit's dispatcher keeps them in
 * memory). The server that takes an agent's heartbeats renews it; the node controller reads it.
 *
 * The in-memory implementation serves one server (the SQLite store); with etcd, a node's liveness is an
 * etcd lease any server can renew.
 */
export interface NodeLiveness {
  /** Records a heartbeat of `node` at `nowMs` (epoch ms). */
  renew(node: string, nowMs: number): void;
  /** Epoch ms of the last heartbeat this process knows of, or undefined. */
  lastRenewedMs(node: string): number | undefined;
  /** Forgets a removed node. */
  forget(node: string): void;
}

export class MemoryNodeLiveness implements NodeLiveness {
  readonly #last = new Map<string, number>();

  renew(node: string, nowMs: number): void {
    this.#last.set(node, Math.max(nowMs, this.#last.get(node) ?? 0));
  }

  lastRenewedMs(node: string): number | undefined {
    return this.#last.get(node);
  }

  forget(node: string): void {
    this.#last.delete(node);
  }
}
