import { randomBytes } from 'node:crypto';
import type { Clock, Disposable, Logger } from '../lib/index.js';
import type { WorkResult } from '../lib/index.js';
import { WorkQueue, systemClock, silentLogger } from '../lib/index.js';
import type { Instance, InstanceHostPort, NewServiceEvent, Service, SpecLimits } from '../model/index.js';
import { AddressExhaustedError, isTerminal, serviceKey, slotName } from '../model/index.js';
import type { ServicePlan, UsageIndex } from '../reconcile/index.js';
import { indexUsage, planService, serviceLinkEnv, servicePortsOf } from '../reconcile/index.js';
import type { ControllerWrites, NewInstance, Store, WatchEvent } from '../store/index.js';
import { AddressAllocator } from './address-allocator.js';
import { HostPortAllocator, portsToPublish } from './host-port-allocator.js';

/** How long a service waiting for free instance addresses waits before it looks again. */
const ADDRESS_RETRY_MS = 5000;

/**
 * Most instances one pass creates (as Kubernetes' ReplicaSet controller's BurstReplicas, 500 per sync).
 * An apply of 10,000 replicas is then seven passes of about 100 ms with I/O served between them, not one
 * synchronous pass of seconds that starves heartbeats and the leader's lease keep-alive. 1,500, not
 * Kubernetes' 500: each pass plans the whole service again, and twenty passes of 500 cost the leader 12 %
 * more CPU and its nodes saw the last creation twice as late (2.9–3.3 s, not 1.4 s; converged 4.5–4.8 s,
 * not 4.0–4.1 s); 3,000 gained nothing more and doubled the heartbeats' round trips (bench/
 * control-plane-scale, docs/benchmarks.md "Session 14"). Only new slots are cut this way: a pass that
 * replaces instances (a rollout, bounded by its parallelism) creates what it planned.
 */
export const MAX_CREATES_PER_PASS = 1500;

/**
 * A service whose pass took at least this long (ms) is paced: its next pass for an instance's progress
 * (starting, running, ready) waits PACE_FACTOR times as long as the last one took, so that one service
 * of 10,000 instances takes at most about a quarter of the event loop for progress, and its passes
 * coalesce the reports of many nodes, not one pass per report (bench/controller-pass: 214 passes of
 * 80 ms for 200 reports before). An instance that ended or was deleted, and any change of the service
 * or a node, still gets a pass at once.
 */
export const PACE_FROM_MS = 10;

/**
 * How many times its last pass's duration a paced service waits before its next progress pass. 1 gave
 * progress passes half of the leader's event loop while 10,000 instances reported in, and the reports
 * themselves (the agents' status writes) the other half; 3 leaves them three quarters, and the service's
 * status lags its instances by at most three passes (about 100 ms at 10,000 instances;
 * bench/control-plane-scale, docs/benchmarks.md "Session 12").
 */
export const PACE_FACTOR = 3;

export interface ServiceControllerOptions {
  readonly store: Store;
  /** Instance address range (default 127.10.0.0/16). */
  readonly instanceRange?: string;
  /**
   * Addresses of instances with images (the Docker driver's bridge subnet), without the ones the
   * network keeps (its own address, the gateway, broadcast). Absent: they come from instanceRange.
   */
  readonly containerRange?: { readonly cidr: string; readonly reserved: readonly string[] };
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Random suffixes of instance ids; injectable for tests. */
  readonly randomId?: () => string;
  /** The server's limits: a deployed spec past them is marked failed, not run (default model's DEFAULT_SPEC_LIMITS). */
  readonly limits?: SpecLimits;
  /** Passes at least this long (ms) pace their service's next ones (default PACE_FROM_MS). */
  readonly paceFromMs?: number;
  /** What pass durations are measured with, ms (default performance.now; injectable for tests). */
  readonly passTimer?: () => number;
}

/**
 * The control loop of services: watches the store, and for each service that changed (or whose
 * instances changed) re-reads it, asks planService for a plan and writes the plan in one transaction.
 * Level-triggered and keyed: events only enqueue `grid/name`; a full pass runs at start; a failing key
 * is retried with back-off; restart back-offs come back as delayed re-queues.
 */
export class ServiceController {
  private readonly queue: WorkQueue;
  private readonly allocator: AddressAllocator;
  private containerAllocator: AddressAllocator | undefined;
  /** The container network's range: options.containerRange, or the one addContainerRange brought. */
  private containerRange: ServiceControllerOptions['containerRange'];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly randomId: () => string;
  private readonly paceFromMs: number;
  private readonly passTimer: () => number;
  private watch: Disposable | undefined;
  private usageCache: { readonly revision: number; readonly usage: UsageIndex } | undefined;
  private activeCache: { readonly revision: number; readonly instances: readonly Instance[] } | undefined;
  /** Services whose last plan left slots pending (no node could take them), by `grid/name`. */
  private readonly pendingKeys = new Set<string>();
  /** The service whose plan is being written: the watch events of that write are this controller's own. */
  private writing: string | undefined;
  /** How long the last pass of each slow service took, ms (see PACE_FROM_MS). */
  private readonly passMs = new Map<string, number>();
  /** Each node's scheduling facts as last seen (all but heartbeatAt and version). */
  private readonly nodeFingerprints = new Map<string, string>();

  constructor(private readonly options: ServiceControllerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.randomId = options.randomId ?? (() => randomBytes(3).toString('hex'));
    this.paceFromMs = options.paceFromMs ?? PACE_FROM_MS;
    this.passTimer = options.passTimer ?? (() => performance.now());
    this.allocator = new AddressAllocator(options.instanceRange ?? '127.10.0.0/16');
    this.containerRange = options.containerRange;
    this.containerAllocator = options.containerRange ? new AddressAllocator(options.containerRange.cidr) : undefined;
    this.queue = new WorkQueue((key) => this.reconcile(key), {
      clock: this.clock,
      onError: (key, error) => this.logger.error({ key, err: error }, 'reconcile failed; retrying'),
    });
  }

  start(): void {
    const { store } = this.options;
    const addresses = store.listInstances().map((i) => i.spec.address);
    this.allocator.resumeAfter(addresses);
    this.containerAllocator?.resumeAfter(addresses);
    this.watch = store.watch(store.revision(), (e) => this.onChange(e));
    for (const s of store.listServices()) this.queue.add(serviceKey(s.grid, s.name));
  }

  /**
   * Addresses instances with images on a container network that appeared after start (a Docker engine
   * found late), then gives every service a pass. Ignored when the controller has a container range.
   */
  addContainerRange(range: NonNullable<ServiceControllerOptions['containerRange']>): void {
    if (this.containerAllocator) return;
    this.containerRange = range;
    const allocator = new AddressAllocator(range.cidr);
    allocator.resumeAfter(this.options.store.listInstances().map((i) => i.spec.address));
    this.containerAllocator = allocator;
    for (const s of this.options.store.listServices()) this.queue.add(serviceKey(s.grid, s.name));
  }

  async stop(): Promise<void> {
    void this.watch?.dispose();
    this.queue.stop();
    await Promise.resolve();
  }

  /** Resolves once no reconcile is queued or running (tests and `up` use it to settle). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private onChange(e: WatchEvent): void {
    switch (e.kind) {
      case 'service':
        // Its own status write needs no pass at once (the next one, paced, confirms it); any other change does.
        if (e.key === this.writing) this.pace(e.key);
        else this.queue.add(e.key);
        break;
      case 'instance': {
        const key = serviceKey(e.object.grid, e.object.service);
        if (key !== this.writing && (e.op === 'delete' || isTerminal(e.object.status.state))) this.queue.add(key);
        else this.pace(key);
        // An instance that ended (or was forgotten) frees its node's reservations and its place under
        // maxReplicasPerNode: services with slots pending for want of a node look again (swarmkit's
        // scheduler retries its unassigned tasks on every change too).
        if (e.op === 'delete' || isTerminal(e.object.status.state)) for (const pending of this.pendingKeys) this.queue.add(pending);
        break;
      }
      case 'node': {
        // Only what scheduling reads: a registration that changes nothing else (a restart of its agent) re-plans nothing.
        const { heartbeatAt: _h, version: _v, ...facts } = e.object;
        const fingerprint = e.op === 'delete' ? '' : JSON.stringify(facts);
        if (this.nodeFingerprints.get(e.key) === fingerprint) break;
        this.nodeFingerprints.set(e.key, fingerprint);
        for (const s of this.options.store.listServices()) this.queue.add(serviceKey(s.grid, s.name));
        break;
      }
      default:
        break;
    }
  }

  /** A pass for `key` once PACE_FACTOR times its last pass's duration has gone by (at once for a quick service; see PACE_FROM_MS). */
  private pace(key: string): void {
    this.queue.addAfter(key, (this.passMs.get(key) ?? 0) * PACE_FACTOR, { busy: true });
  }

  private async reconcile(key: string): Promise<WorkResult> {
    const { store } = this.options;
    const started = this.passTimer();
    const slash = key.indexOf('/');
    const service = store.getService(key.slice(0, slash), key.slice(slash + 1));
    if (!service) {
      this.pendingKeys.delete(key);
      this.passMs.delete(key);
      return;
    }
    const instances = store.listInstances({ grid: service.grid, service: service.name });
    // Every node, in any state: the scheduler says why a down, paused or draining one takes nothing.
    const nodes = store.listNodes().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const now = this.clock.now();
    const plan = planService(service, instances, { now, nodes, usage: () => this.usage(), maxNewSlots: MAX_CREATES_PER_PASS, ...(this.options.limits ? { limits: this.options.limits } : {}) });
    if (plan.pending.length > 0) this.pendingKeys.add(key);
    else this.pendingKeys.delete(key);
    // A burst of new slots is created over several passes (the plan places no more than one pass creates).
    const burst = (plan.create.length > MAX_CREATES_PER_PASS && plan.retire.length === 0) || (plan.deferred ?? 0) > 0;
    const cut: ServicePlan = burst ? { ...plan, create: plan.create.slice(0, MAX_CREATES_PER_PASS) } : plan;
    const writes = this.toWrites(service, instances, cut, now);
    this.writing = key;
    try {
      store.applyControllerWrites(writes.writes);
    } finally {
      this.writing = undefined;
    }
    const took = this.passTimer() - started;
    if (took >= this.paceFromMs) this.passMs.set(key, took);
    else this.passMs.delete(key);
    await Promise.resolve();
    // The next burst after half the time this one took: creates go on at two thirds of the event loop.
    if (burst && !writes.waitingForAddresses) return { requeueAfterMs: (this.passMs.get(key) ?? 0) / 2, busy: true };
    // Out of instance addresses (the API refuses deploys that cannot fit, so this is a passing shortage,
    // e.g. instances of a removed service still draining): look again later, without an error per retry.
    const requeueAfterMs = writes.waitingForAddresses ? Math.min(plan.requeueAfterMs ?? ADDRESS_RETRY_MS, ADDRESS_RETRY_MS) : plan.requeueAfterMs;
    if (requeueAfterMs === undefined) return undefined;
    // A rollout's monitor windows end one slot after another as instances turn ready, each sooner than
    // the pace: a slow service looks at them paced, as at their progress (no restart waits on them).
    const paced = (this.passMs.get(key) ?? 0) * PACE_FACTOR;
    if (plan.requeueForMonitor && !writes.waitingForAddresses && paced > requeueAfterMs) return { requeueAfterMs: paced, busy: true };
    return { requeueAfterMs };
  }

  /**
   * What every service's active instances reserve per node, for the scheduler: built from the store once
   * per revision (a pass over many services that writes nothing builds it once).
   */
  private usage(): UsageIndex {
    const revision = this.options.store.revision();
    if (this.usageCache?.revision !== revision) this.usageCache = { revision, usage: indexUsage(this.activeInstances()) };
    return this.usageCache.usage;
  }

  /** Every active instance of every service, listed once per store revision (a pass that creates reads it three times). */
  private activeInstances(): readonly Instance[] {
    const revision = this.options.store.revision();
    if (this.activeCache?.revision !== revision) this.activeCache = { revision, instances: this.options.store.listInstances({ active: true }) };
    return this.activeCache.instances;
  }

  private toWrites(service: Service, instances: readonly Instance[], plan: ServicePlan, now: number): { writes: ControllerWrites; waitingForAddresses: boolean } {
    const events: NewServiceEvent[] = [...plan.events];
    const base = { grid: service.grid, service: service.name };
    let createInstances: NewInstance[] = [];
    let status = plan.status;
    let waitingForAddresses = false;
    const inUse = plan.create.length > 0 && service.deployment ? new Set(this.activeInstances().map((i) => i.spec.address)) : new Set<string>();
    let addresses: string[] = [];
    try {
      if (plan.create.length > 0 && service.deployment) {
        // An instance with images is addressed on the container network (its sandbox holds the address).
        const images = this.containerAllocator && service.deployment.spec.containers.some((c) => c.image !== undefined);
        for (const r of images ? (this.containerRange?.reserved ?? []) : []) inUse.add(r);
        addresses = (images ? this.containerAllocator : this.allocator)?.allocate(plan.create.length, inUse) ?? [];
      }
    } catch (error) {
      if (!(error instanceof AddressExhaustedError)) throw error;
      waitingForAddresses = true;
      const message = `waiting for ${plan.create.length} instance address(es): ${error.message}`;
      // Said once (an event and the status), not on every retry.
      if (!service.status.message.includes(message)) events.push({ ...base, type: 'service.address_wait', severity: 'warning', message });
      status = { ...status, message: `${status.message}; ${message}` };
    }
    if (addresses.length > 0 && service.deployment) {
      const { spec, generation, restartGeneration } = service.deployment;
      // Kubernetes' env-var discovery: every service of the grid with a virtual IP, as it is now.
      const env = serviceLinkEnv(
        this.options.store
          .listServices({ grid: service.grid })
          .filter((s) => s.desired !== 'removing')
          .map((s) => ({ name: s.name, ...(s.spec.clusterIP && s.spec.clusterIP !== 'None' ? { clusterIP: s.spec.clusterIP } : {}), ports: servicePortsOf(s.spec) })),
      );
      // Node-published ports: each node's live instances' ports, then this pass's (Nomad's dynamic ports).
      const targets = new Set(plan.create.map((c) => c.node));
      const hostPorts = new HostPortAllocator(this.activeInstances().filter((i) => targets.has(i.node)));
      const published = portsToPublish([spec, service.spec]);
      createInstances = plan.create.map((c, k) => ({
        id: `${slotName(service.name, c.slot)}-${this.randomId()}`,
        grid: service.grid,
        service: service.name,
        serviceId: service.id,
        slot: c.slot,
        node: c.node,
        generation,
        restartGeneration,
        restarts: c.restarts,
        desiredState: 'running',
        spec: {
          containers: spec.containers,
          address: addresses[k] as string,
          restartPolicy: spec.restartPolicy,
          env,
          drainTimeout: spec.drainTimeout,
          ...withHostPorts(hostPorts.allocate(c.node, published)),
          // Relative to the node's data directory; the agent resolves it (node-local storage).
          ...(spec.stateful ? { dataDir: `volumes/${service.grid}/${service.name}/${c.slot}` } : {}),
        },
      }));
      createInstances.forEach((created, k) => {
        events.push({ ...base, type: 'instance.created', severity: 'info', instance: created.id, slot: created.slot, message: `${slotName(service.name, created.slot)} created (${plan.create[k]?.reason ?? 'new'}) at ${created.spec.address}` });
      });
    }
    const byId = new Map(instances.map((i) => [i.id, i]));
    for (const s of plan.shutdown) {
      const i = byId.get(s.id);
      if (i) events.push({ ...base, type: 'instance.stopping', severity: 'info', instance: i.id, slot: i.slot, message: `${slotName(service.name, i.slot)} stopping: ${s.reason}` });
    }
    if (plan.removeService) events.push({ ...base, type: 'service.removed', severity: 'info', message: `service ${service.name} removed` });
    // Only ended instances are forgotten, but for a service whose removal is done: the planner counted
    // an instance on a removed node (`node rm --force`) as ended, since it never reports again. Kept, it
    // kept the service record too ("service record kept: it still has instances"): removal hung for ever.
    const removable = plan.remove.filter((id) => {
      const i = byId.get(id);
      return i !== undefined && (isTerminal(i.status.state) || plan.removeService);
    });
    const writes: ControllerWrites = {
      createInstances,
      setDesired: [
        ...plan.shutdown.map((s) => ({ id: s.id, desiredState: 'shutdown' as const, reason: s.reason })),
        // Retired only when their slot really got its new instance.
        ...(waitingForAddresses ? [] : plan.retire).map((id) => ({ id, desiredState: 'shutdown' as const, reason: 'replaced by a new instance in its slot' })),
      ],
      deleteInstances: removable,
      // The store skips a status equal to the stored one but for updatedAt: a converged service writes nothing.
      serviceStatus: !plan.removeService ? [{ grid: service.grid, name: service.name, status: { ...status, updatedAt: new Date(now).toISOString() } }] : [],
      deleteServices: plan.removeService ? [{ grid: service.grid, name: service.name }] : [],
      ...(plan.rollback ? { rollback: { grid: service.grid, name: service.name, ...plan.rollback } } : {}),
      events,
    };
    return { writes, waitingForAddresses };
  }
}

/** `{ hostPorts }` when there are any (left out of the spec otherwise, as older records have none). */
function withHostPorts(ports: readonly InstanceHostPort[]): { hostPorts?: readonly InstanceHostPort[] } {
  return ports.length > 0 ? { hostPorts: ports } : {};
}
