/**
 * The drain barrier across nodes (docs/nodes.md): every node's data plane (its DNS server and proxy)
 * reports the store revision of the newest endpoints snapshot it applied; an instance that is about to
 * stop waits until every node that reports has applied the revision that took it out of the
 * endpoints — not only its own node. Kept in the memory of the server that writes (the leader): a
 * new leader starts empty, and a node counts again once it reports.
 *
 * Nodes that never reported (a data plane turned off) or whose last report is older than `staleMs`
 * (a node that died) are not waited for: the node controller deals with them.
 */
export class DataPlaneBarrier {
  private readonly reports = new Map<string, { revision: number; at: number }>();
  private readonly waiters = new Set<{ check: () => boolean }>();

  constructor(
    private readonly options: {
      /** Nodes that are ready now (a down node's data plane is not waited for). */
      readonly readyNodes: () => ReadonlySet<string>;
      /** A report older than this no longer counts (ms; the node grace). */
      readonly staleMs: number;
      readonly now?: () => number;
    },
  ) {}

  /** A node's data plane applied a snapshot of `revision` (reports never go backwards). */
  report(node: string, revision: number): void {
    const now = this.now();
    const previous = this.reports.get(node);
    this.reports.set(node, { revision: Math.max(revision, previous?.revision ?? 0), at: now });
    for (const w of [...this.waiters]) w.check();
  }

  /** The nodes whose data plane has not applied `revision` yet (among those that count), sorted. */
  behind(revision: number, except?: string): string[] {
    const ready = this.options.readyNodes();
    const now = this.now();
    const out: string[] = [];
    for (const [node, r] of this.reports) {
      if (node === except || !ready.has(node) || now - r.at > this.options.staleMs) continue;
      if (r.revision < revision) out.push(node);
    }
    return out.sort();
  }

  /**
   * Resolves with [] once every node that counts applied `revision`, or with the nodes still behind
   * after `timeoutMs` or when `signal` aborts (the caller goes on: a barrier never blocks a stop forever).
   */
  wait(revision: number, options: { readonly except?: string; readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<string[]> {
    return new Promise((resolve) => {
      const timer: { id?: NodeJS.Timeout } = {};
      const finish = (): void => {
        clearTimeout(timer.id);
        this.waiters.delete(waiter);
        options.signal?.removeEventListener('abort', finish);
        resolve(this.behind(revision, options.except));
      };
      const waiter = {
        check: (): boolean => {
          if (this.behind(revision, options.except).length > 0) return false;
          finish();
          return true;
        },
      };
      if (waiter.check()) return;
      this.waiters.add(waiter);
      timer.id = setTimeout(finish, options.timeoutMs);
      options.signal?.addEventListener('abort', finish, { once: true });
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
