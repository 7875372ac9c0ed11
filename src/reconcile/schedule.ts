import type { NodeRejection } from '../model/index.js';

export type { NodeRejection };
import type { ContainerSpec, Instance, NodeFacts, NodeInfo, NodeResources, PlacementConstraint, ServiceSpec } from '../model/index.js';
import { constraintHolds, isTerminal, nodeAttribute, nodeFacts, parseConstraint, platformHolds, serviceKey } from '../model/index.js';
import { formatMemoryBytes } from '../lib/index.js';

/*
 * The scheduler: where a new instance of a service runs. Pure, as everything in reconcile/.
 *
 * Modelled on swarmkit's scheduler (manager/scheduler/scheduler.go, pipeline.go, filter.go): a pipeline
 * of filters decides which nodes may take the instance, each filter explaining how many nodes it
 * turned away ("no suitable node (1 node not available for new tasks; 2 nodes have insufficient
 * resources)"); then a preference among the nodes left (nodeinfo.go: fewest tasks of the service,
 * spread over label values by `Preferences[].Spread`). Nomad's scheduler does the same in two named
 * steps — feasibility (scheduler/feasible.go) then ranking (scheduler/rank.go, bin-packing or spread) —
 * and berth's ranking adds Nomad's tie-break on the least reserved node.
 *
 * Filters, in swarmkit's order:
 *   ready        the node is ready (its agent heartbeats)                  ReadyFilter
 *   available    availability `active` (pause and drain take nothing new)  ReadyFilter
 *   driver       an instance with images needs the docker driver           PluginFilter
 *   constraints  every `spec.placement.constraints` holds                  ConstraintFilter
 *   platform     one of `spec.placement.platforms` is the node's          PlatformFilter
 *   max replicas fewer than `maxReplicasPerNode` instances of the service  MaxReplicasFilter
 *   resources    reserved (active instances) + this instance ≤ capacity   ResourceFilter
 * Ranking, replicated: spread preferences (fewest instances of the service among the nodes sharing a
 * label value, level by level, as swarmkit's decision tree), then fewest instances of the service on the
 * node, then the least reserved fraction of capacity (the larger of CPU and memory), then the name.
 */

/** What one node has reserved and runs: the sum over its active (not ended) instances of every service. */
export interface NodeUsage {
  /** 1e-3 CPUs (integers, so that sums are exact). */
  readonly milliCpus: number;
  /** Bytes. */
  readonly memoryBytes: number;
  /** Active instances per service (`grid/name`, serviceKey). */
  readonly byService: ReadonlyMap<string, number>;
}

/** Node name → its usage. Built once per pass from every active instance (indexUsage). */
export type UsageIndex = ReadonlyMap<string, NodeUsage>;

/** Why one node cannot take an instance (JSON-friendly: the plan, `why` and `berth plan` show it). */

/** An instance that fits nowhere: Swarm's summary, then every node's reason. */
export interface Unschedulable {
  /** "no suitable node (1 node not available for new instances; 2 nodes have insufficient resources)". */
  readonly message: string;
  readonly nodes: readonly NodeRejection[];
}

export type ScheduleResult = { readonly node: string } | { readonly unschedulable: Unschedulable };

/** CPUs are counted in thousandths (Kubernetes' millicores), so that sums of reservations are exact. */
const MILLI = 1000;

/** The reservations of one instance of a spec: the sum over its containers (Swarm reserves per task). */
export function reservationOf(containers: readonly ContainerSpec[]): { readonly milliCpus: number; readonly memoryBytes: number } {
  let milliCpus = 0;
  let memoryBytes = 0;
  for (const c of containers) {
    milliCpus += Math.round((c.resources?.reservations?.cpus ?? 0) * MILLI);
    memoryBytes += c.resources?.reservations?.memory ?? 0;
  }
  return { milliCpus, memoryBytes };
}

/** An instance holds its node's resources (and counts for spread) until it has ended. */
function holdsNode(i: Instance): boolean {
  return !isTerminal(i.status.state);
}

/**
 * Every node's usage from the active instances of every service (instances of any state but ended:
 * one that is stopping still holds what it reserved). O(instances); the controller builds it once per
 * store revision and hands it to every planService of that pass.
 */
export function indexUsage(instances: Iterable<Instance>): UsageIndex {
  const out = new Map<string, { milliCpus: number; memoryBytes: number; byService: Map<string, number> }>();
  for (const i of instances) {
    if (!holdsNode(i)) continue;
    let u = out.get(i.node);
    if (!u) {
      u = { milliCpus: 0, memoryBytes: 0, byService: new Map() };
      out.set(i.node, u);
    }
    const r = reservationOf(i.spec.containers);
    u.milliCpus += r.milliCpus;
    u.memoryBytes += r.memoryBytes;
    const key = serviceKey(i.grid, i.service);
    u.byService.set(key, (u.byService.get(key) ?? 0) + 1);
  }
  return out;
}

export interface SchedulerInput {
  /** The deployed spec of the service being placed. */
  readonly spec: ServiceSpec;
  /** Every node the store knows, in any state: the filters say why each one cannot take an instance. */
  readonly nodes: readonly NodeInfo[];
  /** The service's own instances (every state). */
  readonly instances: readonly Instance[];
  /**
   * Every service's active instances by node, or how to get it (read only when an instance is placed
   * or resources are checked, so that a pass that places nothing never builds it); absent: built from
   * `instances` (no other service reserves anything).
   */
  readonly usage?: UsageIndex | (() => UsageIndex);
}

export interface CheckOptions {
  /** The slot's instance ran here before and its data is here (stateful): a `pause`d node takes it back. */
  readonly home?: boolean;
  /**
   * Whether an instance that runs on the node already may stay there: a `pause`d node keeps it, and
   * neither maxReplicasPerNode nor resources are checked (it is counted in them already).
   */
  readonly existing?: boolean;
}

/**
 * The scheduler of one service for one reconcile pass: `check` says whether a node may take one more
 * instance, `pick` chooses the best node and `assign` records a placement so that the next pick of the
 * same pass sees it (swarmkit's scheduler updates its nodeInfo the same way between tasks of a batch).
 */
export class ServiceScheduler {
  private readonly facts = new Map<string, NodeFacts>();
  private readonly groups = new Map<string, string[]>();
  private readonly constraints: readonly PlacementConstraint[];
  private readonly need: { readonly milliCpus: number; readonly memoryBytes: number };
  private readonly needsDocker: boolean;
  /** Instances of this service per node (its own active instances, then this pass's placements). */
  private readonly mine = new Map<string, number>();
  /** Of those, the ones a rollout moves away (leave): the spread no longer counts them there. */
  private readonly leavingOn = new Map<string, number>();
  /** Reserved per node by every service (the usage index, then this pass's placements). */
  private reservedByNode: Map<string, { milliCpus: number; memoryBytes: number }> | undefined;
  private readonly byName: ReadonlyMap<string, NodeInfo>;

  constructor(private readonly input: SchedulerInput) {
    const { spec } = input;
    this.constraints = (spec.placement?.constraints ?? []).map(parseConstraint);
    this.need = reservationOf(spec.containers);
    this.needsDocker = spec.containers.some((c) => c.image !== undefined);
    this.byName = new Map(input.nodes.map((n) => [n.name, n]));
    for (const i of input.instances) if (holdsNode(i)) this.mine.set(i.node, (this.mine.get(i.node) ?? 0) + 1);
  }

  /** The node of that name, if the store knows it. */
  node(name: string): NodeInfo | undefined {
    return this.byName.get(name);
  }

  /** Instances of this service on a node (active ones and this pass's placements). */
  countOn(node: string): number {
    return this.mine.get(node) ?? 0;
  }

  /** Why `node` cannot take one more instance of the service, or undefined when it can. Filters in swarmkit's order. */
  check(node: NodeInfo, options: CheckOptions = NO_OPTIONS): NodeRejection | undefined {
    if (!node.ready) return reject(node, 'ready', `node ${node.name} is down`);
    if (node.availability === 'drain' || (node.availability === 'pause' && options.home !== true && options.existing !== true)) {
      return reject(node, 'available', `node ${node.name} is ${node.availability === 'drain' ? 'draining' : 'paused'}`);
    }
    if (this.needsDocker && !node.drivers.includes('docker')) {
      return reject(node, 'driver', `node ${node.name} has no docker driver (${node.unavailableDrivers?.['docker'] ?? 'not reported'}), and the containers run images`);
    }
    const placement = this.input.spec.placement;
    if (placement !== undefined) {
      const facts = this.factsOf(node);
      const broken = this.constraints.find((c) => !constraintHolds(c, facts));
      if (broken) {
        const value = nodeAttribute(broken.key, facts);
        return reject(node, 'constraints', `node ${node.name} does not meet ${broken.key}${broken.operator}${broken.value} (it has ${value === undefined ? 'none' : `${broken.key}=${value}`})`);
      }
      if (!platformHolds(placement.platforms, facts)) {
        const want = placement.platforms.map((p) => `${p.os ?? '*'}/${p.architecture ?? '*'}`).join(', ');
        return reject(node, 'platform', `node ${node.name} is ${node.os}/${node.arch}, the image runs on ${want}`);
      }
    }
    if (options.existing === true) return undefined;
    const max = placement?.maxReplicasPerNode ?? 0;
    // A global service runs one per node by definition (a start-first update briefly runs two).
    if (max > 0 && this.input.spec.mode !== 'global' && this.countOn(node.name) >= max) {
      return reject(node, 'max-replicas', `node ${node.name} runs ${this.countOn(node.name)} instance(s) of ${this.input.spec.name} already (maxReplicasPerNode ${max})`);
    }
    if (this.need.milliCpus === 0 && this.need.memoryBytes === 0) return undefined;
    const used = this.reserved().get(node.name) ?? NOTHING_RESERVED;
    const capCpus = Math.round(node.capacity.cpus * MILLI);
    const cpuShort = this.need.milliCpus > 0 && used.milliCpus + this.need.milliCpus > capCpus;
    const memShort = this.need.memoryBytes > 0 && used.memoryBytes + this.need.memoryBytes > node.capacity.memoryBytes;
    if (!cpuShort && !memShort) return undefined;
    const short: string[] = [];
    if (cpuShort) short.push(`${Math.max(0, capCpus - used.milliCpus) / MILLI} of ${node.capacity.cpus} CPUs free, an instance reserves ${this.need.milliCpus / MILLI}`);
    if (memShort) {
      short.push(`${formatMemoryBytes(Math.max(0, node.capacity.memoryBytes - used.memoryBytes))} of ${formatMemoryBytes(node.capacity.memoryBytes)} memory free, an instance reserves ${formatMemoryBytes(this.need.memoryBytes)}`);
    }
    return reject(node, 'resources', `node ${node.name} has ${short.join(' and ')}`);
  }

  /**
   * The best node for one more instance (replicated ranking, see the file's comment), or why none fits.
   * `avoid`: a node the instance must leave (its draining or lost node) — never picked.
   */
  pick(options: { readonly avoid?: string } = {}): ScheduleResult {
    const rejections: NodeRejection[] = [];
    const eligible: NodeInfo[] = [];
    const spreading = (this.input.spec.placement?.preferences ?? []).length > 0;
    /** Nodes that take nothing new but keep what they run (full, paused, the one left): their instances count in their group. */
    const keeping: NodeInfo[] = [];
    for (const n of this.input.nodes) {
      const r = this.check(n);
      if (n.name === options.avoid) {
        rejections.push(r ?? { node: n.name, filter: 'available', message: `node ${n.name} is the node the instance leaves` });
        if (spreading && (r === undefined || keeps(n, r))) keeping.push(n);
        continue;
      }
      if (r) {
        rejections.push(r);
        if (spreading && keeps(n, r)) keeping.push(n);
      } else {
        eligible.push(n);
      }
    }
    if (eligible.length === 0) return { unschedulable: describeUnschedulable(rejections) };
    const spread = spreading ? this.spreadKeys(eligible, keeping) : undefined;
    // One scan for the smallest (spread…, count, load, name): no sort and no garbage per node, as a
    // pass that places 10,000 instances picks 10,000 times.
    let best: { n: NodeInfo; spread: readonly number[]; count: number; load: number } | undefined;
    for (const n of eligible) {
      const c = { n, spread: spread?.get(n.name) ?? NO_KEYS, count: this.countOn(n.name), load: this.load(n) };
      const d = best === undefined ? -1 : compareKeys(c.spread, best.spread) || c.count - best.count || c.load - best.load || (n.name < best.n.name ? -1 : 1);
      if (d < 0) best = c;
    }
    return { node: (best as { n: NodeInfo }).n.name };
  }

  /**
   * Records that an instance on `node` is being moved away by a rollout (it still runs, and counts for
   * maxReplicasPerNode and resources until it ended): the spread ranks as if it were gone, so that the
   * instances that move where the spread wants them (spread-moves.ts) are placed to match.
   */
  leave(node: string): void {
    this.leavingOn.set(node, (this.leavingOn.get(node) ?? 0) + 1);
  }

  /** Records that one more instance of the service goes to `node` in this pass. */
  assign(node: string): void {
    this.mine.set(node, this.countOn(node) + 1);
    const r = this.reserved().get(node) ?? NOTHING_RESERVED;
    this.reserved().set(node, { milliCpus: r.milliCpus + this.need.milliCpus, memoryBytes: r.memoryBytes + this.need.memoryBytes });
  }

  /** Why no node at all can take an instance: every node's rejection (empty when some node can). */
  rejections(options: CheckOptions = {}): NodeRejection[] {
    return this.input.nodes.map((n) => this.check(n, options)).filter((r): r is NodeRejection => r !== undefined);
  }

  /** What every node has reserved: the usage index, read at the first need, then this pass's placements. */
  private reserved(): Map<string, { milliCpus: number; memoryBytes: number }> {
    if (!this.reservedByNode) {
      const given = this.input.usage;
      const usage = given === undefined ? indexUsage(this.input.instances) : typeof given === 'function' ? given() : given;
      this.reservedByNode = new Map([...usage].map(([node, u]) => [node, { milliCpus: u.milliCpus, memoryBytes: u.memoryBytes }]));
    }
    return this.reservedByNode;
  }

  private factsOf(node: NodeInfo): NodeFacts {
    let f = this.facts.get(node.name);
    if (!f) {
      f = nodeFacts(node);
      this.facts.set(node.name, f);
    }
    return f;
  }

  /** The reserved fraction of the node's capacity: the larger of CPU and memory (0 when nothing is reserved). */
  private load(node: NodeInfo): number {
    const r = this.reserved().get(node.name) ?? NOTHING_RESERVED;
    const cpu = r.milliCpus === 0 ? 0 : node.capacity.cpus > 0 ? r.milliCpus / (node.capacity.cpus * MILLI) : Infinity;
    const mem = r.memoryBytes === 0 ? 0 : node.capacity.memoryBytes > 0 ? r.memoryBytes / node.capacity.memoryBytes : Infinity;
    return Math.max(cpu, mem);
  }

  /**
   * swarmkit's spread (scheduler/decision_tree.go): for each preference in order, the instances of the
   * service on the nodes that share this node's value of the label (nodes without it share the value
   * ""), within the group of the preferences before it. Fewest first at every level. The instances of
   * nodes that take nothing new but keep what they run (`keeping`: full, paused) count in their group
   * too — swarmkit's tree leaves them out, so a zone with one full node looked emptier than it is, and a
   * spread change would move instances into it (docs/scheduling.md, "Ranking").
   */
  private spreadKeys(eligible: readonly NodeInfo[], keeping: readonly NodeInfo[]): Map<string, number[]> {
    const prefs = this.input.spec.placement?.preferences ?? [];
    const keys = new Map<string, number[]>();
    const counts = prefs.map(() => new Map<string, number>());
    for (const n of [...eligible, ...keeping]) {
      const mine = this.countOn(n.name) - (this.leavingOn.get(n.name) ?? 0);
      if (mine <= 0) continue;
      this.groupsOf(n, prefs).forEach((g, level) => counts[level]?.set(g, (counts[level]?.get(g) ?? 0) + mine));
    }
    for (const n of eligible) keys.set(n.name, this.groupsOf(n, prefs).map((g, level) => counts[level]?.get(g) ?? 0));
    return keys;
  }

  /**
   * The node's group at each spread level of the deployed preferences: the path of its label values
   * (`\0a`, `\0a\0rack1`; nodes without the label share the value ""). Fixed for the pass.
   */
  spreadGroups(node: NodeInfo): readonly string[] {
    return this.groupsOf(node, this.input.spec.placement?.preferences ?? []);
  }

  /** The node's group at each spread level: the path of its label values (nodes without one share ""). Fixed for the pass. */
  private groupsOf(node: NodeInfo, prefs: readonly { readonly spread: string }[]): string[] {
    let g = this.groups.get(node.name);
    if (!g) {
      let path = '';
      g = prefs.map((p) => (path = `${path}\u0000${nodeAttribute(p.spread, this.factsOf(node)) ?? ''}`));
      this.groups.set(node.name, g);
    }
    return g;
  }
}

const NO_KEYS: readonly number[] = [];
const NO_OPTIONS: CheckOptions = {};
const NOTHING_RESERVED = { milliCpus: 0, memoryBytes: 0 } as const;

/** Whether a node that turned a new instance away (`r`) keeps those it runs: it is full, or paused. */
function keeps(node: NodeInfo, r: NodeRejection): boolean {
  return r.filter === 'max-replicas' || r.filter === 'resources' || (r.filter === 'available' && node.availability === 'pause');
}

function reject(node: NodeInfo, filter: NodeRejection['filter'], message: string): NodeRejection {
  return { node: node.name, filter, message };
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    const d = (a[k] ?? 0) - (b[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** How swarmkit's filters explain themselves (filter.go `Explain`), one phrase per filter, in pipeline order. */
const EXPLAIN: Readonly<Record<NodeRejection['filter'], (n: number) => string>> = {
  ready: (n) => `${nodes(n)} down`,
  available: (n) => `${nodes(n)} not available for new instances`,
  driver: (n) => `${nodes(n)} without the docker driver`,
  constraints: (n) => `scheduling constraints not satisfied on ${nodes(n)}`,
  platform: (n) => `unsupported platform on ${nodes(n)}`,
  'max-replicas': (n) => `max replicas per node reached on ${nodes(n)}`,
  resources: (n) => `insufficient resources on ${nodes(n)}`,
};

function nodes(n: number): string {
  return n === 1 ? '1 node' : `${n} nodes`;
}

/**
 * Swarm's "no suitable node (…)" summary, followed by each node's reason:
 * `no suitable node (1 node not available for new instances; 2 nodes have insufficient resources): node a is draining; …`.
 */
export function describeUnschedulable(rejections: readonly NodeRejection[]): Unschedulable {
  if (rejections.length === 0) return { message: 'no node has registered yet', nodes: [] };
  const counts = new Map<NodeRejection['filter'], number>();
  for (const r of rejections) counts.set(r.filter, (counts.get(r.filter) ?? 0) + 1);
  const order = Object.keys(EXPLAIN) as NodeRejection['filter'][];
  const summary = order.filter((f) => counts.has(f)).map((f) => EXPLAIN[f](counts.get(f) ?? 0)).join('; ');
  return { message: `no suitable node (${summary}): ${rejections.map((r) => r.message).join('; ')}`, nodes: rejections };
}

/** The resources an instance of `spec` reserves, in the node's units (CPUs, bytes). */
export function instanceReservation(spec: ServiceSpec): NodeResources {
  const r = reservationOf(spec.containers);
  return { cpus: r.milliCpus / MILLI, memoryBytes: r.memoryBytes };
}
