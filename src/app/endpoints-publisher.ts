import type { Disposable, Logger } from '../lib/index.js';
import { BoundedFrequencyRunner } from '../lib/index.js';
import type { EndpointsSnapshot, Instance, InstanceForward, NodeInfo, Service, ServiceEndpoints } from '../model/index.js';
import { isTerminal, serviceKey } from '../model/index.js';
import type { DeriveEndpointsOptions } from '../reconcile/index.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS, deriveEndpoints } from '../reconcile/index.js';
import type { EndpointsView } from '../api/index.js';
import type { Store } from '../store/index.js';

/** What the publisher reads: the server's store, or a node's mirror of it (app/cluster-mirror.ts). */
export type EndpointsSource = Pick<Store, 'revision' | 'listServices' | 'listInstances' | 'listNodes' | 'watch'>;

/**
 * Something that takes whole endpoint snapshots: the DNS server, the proxy. A sink that took the
 * snapshot but could not apply all of it (a listener that did not open) answers `{ retry: true }`: the
 * publisher publishes again after a back-off.
 */
export type SnapshotSink = (snapshot: EndpointsSnapshot) => void | SinkOutcome | Promise<void | SinkOutcome>;

export interface SinkOutcome {
  readonly retry: boolean;
}

/** The publisher's timing; every field in ms. */
export interface PublisherTiming {
  /**
   * First back-off after a sink asked for a retry. Later ones grow with how long the sinks have been
   * asking (so retries come about 1, 2, 4, 8 … s after the first failure, however many changes
   * published in between). Default 1000.
   */
  readonly retryMinMs: number;
  /** Most back-off between retries (kube-proxy resyncs every 30 s). Default 30 000. */
  readonly retryMaxMs: number;
  /** A full publish at least this often even when nothing changed (kube-proxy's syncPeriod); 0: never. Default 60 000. */
  readonly resyncMs: number;
}

export const DEFAULT_PUBLISHER_TIMING: PublisherTiming = { retryMinMs: 1000, retryMaxMs: 30_000, resyncMs: 60_000 };

/**
 * Feeds the data plane: on every change of a service or an instance it builds one snapshot of every
 * service's endpoints (deriveEndpoints) and hands it to each sink. Changes arriving together are
 * coalesced into one snapshot on the next turn of the event loop, so an exit reaches DNS and the proxy
 * within milliseconds, and a burst of 100 status changes costs one rebuild, not 100.
 *
 * `appliedRevision` is the data plane's barrier for the zero-downtime stop: the store revision of the
 * newest snapshot that every sink has taken (each sink's promise resolved). It only grows; a snapshot a
 * sink refused does not advance it (the next one may). The API's endpoints (`get`, `current`, the follow
 * stream) show a snapshot once the sinks have taken it: what they show is routed.
 *
 * Timing is a BoundedFrequencyRunner (kube-proxy's): a change publishes on the next turn of the event
 * loop; a sink that asks for a retry gets another publish after a back-off (1 s, then about as long
 * as the failure has lasted, at most 30 s by default; reset once no sink asks); and a full publish
 * runs every minute even on a quiet system.
 */
export class EndpointsPublisher implements EndpointsView {
  private watch: Disposable | undefined;
  private readonly runner: BoundedFrequencyRunner;
  private readonly timing: PublisherTiming;
  /** Epoch ms since which every publish has ended with a sink asking for a retry; undefined while none asks. */
  private failingSince: number | undefined;
  private last: EndpointsSnapshot | undefined;
  private byKey = new Map<string, ServiceEndpoints>();
  private readonly listeners = new Set<() => void>();
  private applied = 0;
  private readonly appliedListeners = new Set<(revision: number) => void>();
  private readonly appliedWaiters = new Set<{ readonly revision: number; readonly resolve: () => void; readonly reject: (reason: unknown) => void }>();

  constructor(
    private readonly store: EndpointsSource,
    private readonly sinks: readonly SnapshotSink[],
    private readonly options: {
      readonly nodeAddresses: readonly string[];
      /** The node this data plane runs on: instances of other nodes are reached through their node-published ports. */
      readonly localNode?: string;
      readonly logger: Logger;
      readonly timing?: Partial<PublisherTiming>;
    },
  ) {
    this.timing = { ...DEFAULT_PUBLISHER_TIMING, ...options.timing };
    this.runner = new BoundedFrequencyRunner(() => this.publish(), {
      minIntervalMs: 0,
      maxIntervalMs: this.timing.resyncMs,
      onError: (error) => this.options.logger.error({ err: error }, 'building an endpoints snapshot failed'),
    });
  }

  start(): void {
    this.watch = this.store.watch(this.store.revision(), (e) => {
      if (e.kind === 'service' || e.kind === 'instance' || e.kind === 'node') this.runner.run();
    });
    this.runner.start();
    this.publish();
  }

  /** Stops watching and retrying. Pending `whenApplied` calls stay pending (their signal ends them): a stopping berth is no reason to end a drain. */
  stop(): void {
    this.runner.stop();
    void this.watch?.dispose();
  }

  /** Store revision of the newest snapshot every sink (proxy and DNS) has applied; 0 before the first. */
  get appliedRevision(): number {
    return this.applied;
  }

  /**
   * Resolves once every sink has applied a snapshot built at a store revision ≥ `revision` (at once if
   * one has). Rejects with `signal.reason` when aborted.
   */
  whenApplied(revision: number, signal?: AbortSignal): Promise<void> {
    if (this.applied >= revision) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => waiter.reject(signal?.reason);
      const waiter = {
        revision,
        resolve: () => {
          this.appliedWaiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (reason: unknown) => {
          this.appliedWaiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          reject(reason);
        },
      };
      this.appliedWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The newest snapshot the sinks have taken (what the API shows). */
  current(): EndpointsSnapshot | undefined {
    return this.last;
  }

  /** Calls `listener` after every snapshot the sinks have taken (the endpoints follow stream). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One service's endpoints from the newest snapshot the sinks have taken (GET …/endpoints). */
  get(grid: string, name: string): ServiceEndpoints | undefined {
    return this.byKey.get(serviceKey(grid, name));
  }

  private publish(): void {
    const snapshot = buildSnapshot(this.store, this.options.nodeAddresses, this.options.localNode);
    const taken = this.sinks.map((sink) => {
      try {
        return Promise.resolve(sink(snapshot));
      } catch (error) {
        return Promise.reject(error);
      }
    });
    void Promise.allSettled(taken).then((results) => {
      let refused = false;
      let retry = false;
      for (const r of results) {
        if (r.status === 'fulfilled') {
          if (r.value !== undefined && r.value.retry) retry = true;
          continue;
        }
        refused = true;
        this.options.logger.error({ err: r.reason }, 'a data-plane component refused a snapshot');
      }
      this.show(snapshot);
      if (!refused) this.markApplied(snapshot.revision);
      this.retryIf(retry || refused);
    });
  }

  /**
   * Makes a snapshot the API's view (`get`, `current`, the follow stream) once the sinks have taken it,
   * so that endpoints the API shows are endpoints the proxy and DNS already route to (the relay applies
   * a table a millisecond or so after it is built). Snapshots settle in order; an older one never
   * replaces a newer one.
   */
  private show(snapshot: EndpointsSnapshot): void {
    if (this.last !== undefined && snapshot.revision < this.last.revision) return;
    this.last = snapshot;
    this.byKey = new Map(snapshot.services.map((e) => [serviceKey(e.grid, e.service), e]));
    for (const listener of this.listeners) listener();
  }

  /**
   * After a publish settled: while a sink asks for it (or refused), publish again after a back-off as
   * long as the failure has lasted, between retryMinMs and retryMaxMs; once none asks, reset.
   */
  private retryIf(wanted: boolean): void {
    if (!wanted) {
      this.failingSince = undefined;
      return;
    }
    const now = Date.now();
    this.failingSince ??= now;
    this.runner.retryAfter(Math.min(this.timing.retryMaxMs, Math.max(this.timing.retryMinMs, now - this.failingSince)));
  }

  private markApplied(revision: number): void {
    if (revision <= this.applied) return;
    this.applied = revision;
    for (const w of [...this.appliedWaiters]) if (w.revision <= revision) w.resolve();
    for (const listener of this.appliedListeners) listener(revision);
  }

  /** Calls `listener` with the store revision of every snapshot all sinks applied (the drain barrier across nodes reports it). */
  onApplied(listener: (revision: number) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }
}

/**
 * Every service that has been deployed (or is a plain network alias), with its endpoints, as the data
 * plane of `localNode` serves them. With other nodes in the cluster, an instance of another node is
 * reached at its node's address and node-published port, and this node's own instances get forwards
 * from their node-published ports (docs/nodes.md). Without `localNode`, or alone, every instance is
 * reached at its own address.
 */
export function buildSnapshot(store: EndpointsSource, nodeAddresses: readonly string[], localNode?: string): EndpointsSnapshot {
  const revision = store.revision();
  const nodes = localNode === undefined ? [] : store.listNodes();
  const remote = localNode !== undefined && nodes.some((n) => n.name !== localNode) ? { localNode, nodeAddress: nodeAddressOf(nodes) } : undefined;
  const byService = new Map<string, Instance[]>();
  const forwards: InstanceForward[] = [];
  for (const i of store.listInstances()) {
    const key = serviceKey(i.grid, i.service);
    const list = byService.get(key);
    if (list) list.push(i);
    else byService.set(key, [i]);
    if (remote && i.node === localNode && !isTerminal(i.status.state)) {
      for (const p of i.spec.hostPorts ?? []) {
        for (const host of nodeAddresses) forwards.push({ grid: i.grid, service: i.service, instance: i.id, protocol: p.protocol, host, port: p.hostPort, target: { ip: i.spec.address, port: p.containerPort } });
      }
    }
  }
  const all = store.listServices();
  const services: ServiceEndpoints[] = [];
  for (const s of all) {
    if (s.desired === 'removing') continue;
    services.push(endpointsOf(s, servedInstances(s, all, (o) => byService.get(serviceKey(o.grid, o.name)) ?? []), nodeAddresses, remote));
  }
  return { revision, services, ...(forwards.length > 0 ? { forwards } : {}) };
}

/**
 * One service's endpoints as buildSnapshot derives them, reading only that service's instances (and
 * those of the grid's services its selector picks): for a server that serves endpoints to the API
 * only, on request (app/endpoints-view.ts). Undefined for an unknown or removing service.
 */
export function buildServiceEndpoints(store: EndpointsSource, grid: string, name: string, nodeAddresses: readonly string[], localNode?: string): ServiceEndpoints | undefined {
  const all = store.listServices({ grid });
  const s = all.find((o) => o.name === name);
  if (!s || s.desired === 'removing') return undefined;
  const nodes = localNode === undefined ? [] : store.listNodes();
  const remote = localNode !== undefined && nodes.some((n) => n.name !== localNode) ? { localNode, nodeAddress: nodeAddressOf(nodes) } : undefined;
  return endpointsOf(s, servedInstances(s, all, (o) => store.listInstances({ grid: o.grid, service: o.name })), nodeAddresses, remote);
}

/** The instances `s` serves: its own, or with a selector those of the grid's services whose labels include it (Kubernetes' rule). */
function servedInstances(s: Service, all: readonly Service[], instancesOf: (o: Service) => readonly Instance[]): readonly Instance[] {
  const selector = s.spec.selector;
  if (!selector) return instancesOf(s);
  return all.filter((o) => o.grid === s.grid && o !== s && Object.entries(selector).every(([k, v]) => o.spec.labels[k] === v)).flatMap((o) => instancesOf(o));
}

/** Where each node is reached: its registered address; a node that is down is reached nowhere. */
function nodeAddressOf(nodes: readonly NodeInfo[]): (node: string) => string | undefined {
  const byName = new Map(nodes.filter((n) => n.ready).map((n) => [n.name, n.address]));
  return (node) => byName.get(node);
}

function endpointsOf(s: Service, instances: readonly Instance[], nodeAddresses: readonly string[], remote: DeriveEndpointsOptions['remote']): ServiceEndpoints {
  const spec = s.spec;
  const clusterIP = spec.clusterIP !== undefined && spec.clusterIP !== 'None' && spec.clusterIP !== '' ? spec.clusterIP : undefined;
  return deriveEndpoints(s, instances, {
    ...(clusterIP !== undefined ? { clusterIP } : {}),
    ...(spec.externalName !== undefined ? { externalName: spec.externalName } : {}),
    externalIPs: spec.externalIPs,
    loadBalancerIPs: spec.type === 'LoadBalancer' ? nodeAddresses : [],
    sessionAffinity:
      spec.sessionAffinity === 'ClientIP'
        ? { type: 'ClientIP', timeoutSeconds: spec.sessionAffinityConfig?.clientIP.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS }
        : { type: 'None' },
    publishNotReadyAddresses: spec.publishNotReadyAddresses,
    ...(remote ? { remote } : {}),
  });
}
