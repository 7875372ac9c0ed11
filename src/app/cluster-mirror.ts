import type { NodeAgentClient, WatchEvent } from '../client/index.js';
import type { Disposable, Logger } from '../lib/index.js';
import { CodedError } from '../lib/index.js';
import type { Instance, NodeInfo, Service } from '../model/index.js';
import { isTerminal, serviceKey } from '../model/index.js';
import type { InstanceFilter } from '../store/index.js';
import type { EndpointsSource } from './endpoints-publisher.js';

/**
 * What a node outside the server knows of the cluster: every service, live instance and node, as of a
 * store revision — an informer (Kubernetes' client-go reflector + store). It lists once
 * (`GET /v1/snapshot`), then follows `GET /v1/watch` from the next revision; after a lost connection it
 * resumes from the last revision it saw, and when that history was compacted it lists again and tells
 * its subscribers to resync. Reads are synchronous, from memory, so the data plane's publisher works
 * on it as it does on the server's store.
 */
export class ClusterMirror implements EndpointsSource {
  private readonly services = new Map<string, Service>();
  private readonly instances = new Map<string, Instance>();
  private readonly nodes = new Map<string, NodeInfo>();
  private rev = 0;
  private readonly listeners = new Set<(change: WatchEvent) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly abort = new AbortController();
  private connection: AbortController | undefined;

  constructor(
    private readonly client: NodeAgentClient,
    private readonly logger: Logger,
  ) {}

  /** Lists everything at one revision; call before the first read. */
  async sync(): Promise<void> {
    const snap = await this.client.snapshot();
    this.services.clear();
    this.instances.clear();
    this.nodes.clear();
    for (const s of snap.services) this.services.set(serviceKey(s.grid, s.name), s);
    for (const i of snap.instances) this.instances.set(i.id, i);
    for (const n of snap.nodes) this.nodes.set(n.name, n);
    this.rev = snap.revision;
  }

  /** Follows the watch stream until stop(); reconnects with back-off. */
  follow(): void {
    void this.loop();
  }

  /** Drops the current connection: the loop resumes from the last revision at once (after a network outage). */
  reconnect(): void {
    this.connection?.abort();
  }

  stop(): void {
    this.abort.abort();
    this.connection?.abort();
  }

  /** Every change applied to the mirror, in revision order, after it is applied. */
  subscribe(listener: (change: WatchEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /** Called after the mirror listed again (its watch history was compacted): re-read what you keep. */
  onResync(listener: () => void): Disposable {
    this.resyncListeners.add(listener);
    return { dispose: () => void this.resyncListeners.delete(listener) };
  }

  // ---- EndpointsSource (the read side of Store that the data plane uses) ----

  revision(): number {
    return this.rev;
  }

  listServices(filter: { readonly grid?: string } = {}): Service[] {
    return [...this.services.values()].filter((s) => filter.grid === undefined || s.grid === filter.grid).sort((a, b) => (a.grid === b.grid ? a.name.localeCompare(b.name) : a.grid.localeCompare(b.grid)));
  }

  listInstances(filter: InstanceFilter = {}): Instance[] {
    return [...this.instances.values()].filter(
      (i) =>
        (filter.grid === undefined || i.grid === filter.grid) &&
        (filter.service === undefined || i.service === filter.service) &&
        (filter.node === undefined || i.node === filter.node) &&
        (!filter.active || !isTerminal(i.status.state)),
    );
  }

  listNodes(): NodeInfo[] {
    return [...this.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Changes after `fromRevision`, live only: a mirror keeps no history.
   * @throws CodedError REVISION_COMPACTED when asked for changes it already applied
   */
  watch(fromRevision: number, listener: (change: WatchEvent) => void): Disposable {
    if (fromRevision < this.rev) throw new CodedError('REVISION_COMPACTED', `the mirror keeps no history: watch from revision ${this.rev}`, { revision: this.rev });
    return this.subscribe(listener);
  }

  // ---- internals ----

  private apply(change: WatchEvent): void {
    this.rev = Math.max(this.rev, change.revision);
    if (change.kind === 'service') {
      const key = serviceKey(change.object.grid, change.object.name);
      if (change.op === 'delete') this.services.delete(key);
      else this.services.set(key, change.object);
    } else if (change.kind === 'instance') {
      if (change.op === 'delete' || isTerminal(change.object.status.state)) this.instances.delete(change.object.id);
      else this.instances.set(change.object.id, change.object);
    } else if (change.kind === 'node') {
      if (change.op === 'delete') this.nodes.delete(change.object.name);
      else this.nodes.set(change.object.name, change.object);
    }
    for (const l of this.listeners) l(change);
  }

  private async loop(): Promise<void> {
    let backoffMs = 200;
    while (!this.abort.signal.aborted) {
      this.connection = new AbortController();
      const signal = AbortSignal.any([this.abort.signal, this.connection.signal]);
      try {
        for await (const change of this.client.watch(this.rev + 1, signal)) {
          backoffMs = 200;
          this.apply(change);
        }
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if ((error as { code?: string }).code === 'REVISION_COMPACTED') {
          this.logger.warn({ revision: this.rev }, 'the watch history was compacted: listing the cluster again');
          try {
            await this.sync();
            for (const l of this.resyncListeners) l();
          } catch (e) {
            this.logger.warn({ err: e }, 'listing the cluster failed; retrying');
          }
          continue;
        }
        this.logger.debug({ err: error }, 'the watch stream ended; resuming');
      }
      if (this.abort.signal.aborted) return;
      await new Promise((r) => setTimeout(r, backoffMs).unref());
      backoffMs = Math.min(backoffMs * 2, 5000);
    }
  }
}
