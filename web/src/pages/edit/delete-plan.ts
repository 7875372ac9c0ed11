import type { Instance, Service, SlotVolume } from '../../../../src/model/index.js';

/** berth's DNS domain unless the server was started with another (docs/architecture.md). */
export const DEFAULT_DNS_DOMAIN = 'berth.local';

/** Instance states after which nothing runs (src/model/instance-state.ts isTerminal; web/ imports model types only). */
const TERMINAL: ReadonlySet<string> = new Set(['complete', 'failed', 'shutdown', 'rejected']);

export type ResourceKind = 'instances' | 'data' | 'network' | 'dns' | 'endpoints';

/**
 * One group of resources associated with a service, as the Delete page lists it (KubeSphere's
 * "associated resources"). `optional` ones have a checkbox the user decides (unticked: kept);
 * the others exist only for the service and go with it: shown ticked and disabled, with `why`.
 */
export interface AssociatedResource {
  readonly kind: ResourceKind;
  readonly title: string;
  readonly items: readonly string[];
  readonly optional: boolean;
  readonly why: string;
}

/**
 * The resources deleting `service` touches, from its spec, its live instances and its per-slot data
 * directories (`GET /v1/grids/:grid/volumes?service=`). Groups without items are left out. Per-slot
 * data is the only one that can be kept: the server deletes it only with `?volumes=true`.
 */
export function deletePlan(service: Service, instances: readonly Instance[], volumes: readonly SlotVolume[], domain = DEFAULT_DNS_DOMAIN): AssociatedResource[] {
  const { spec, grid, name } = service;
  const live = instances.filter((i) => !TERMINAL.has(i.status.state));
  const out: AssociatedResource[] = [];
  if (live.length > 0) {
    out.push({
      kind: 'instances',
      title: `${live.length} instance${live.length === 1 ? '' : 's'}`,
      items: [...live].sort((a, b) => a.slot - b.slot).map((i) => `${i.id} (slot ${i.slot}, ${i.spec.address})`),
      optional: false,
      why: 'they exist only for the service: they are stopped (after draining) and removed with it',
    });
  }
  const mine = volumes.filter((v) => v.grid === grid && v.service === name).sort((a, b) => a.slot - b.slot);
  if (mine.length > 0) {
    out.push({
      kind: 'data',
      title: `per-slot data of ${mine.length} slot${mine.length === 1 ? '' : 's'}`,
      items: mine.map((v) => `slot ${v.slot}: ${v.node}:${v.path}`),
      optional: true,
      why: 'kept unless ticked: a new service named the same would find and use it',
    });
  }
  const network: string[] = [];
  if (spec.clusterIP && spec.clusterIP !== 'None') network.push(`virtual IP ${spec.clusterIP}`);
  for (const p of spec.ports) {
    if (p.nodePort !== undefined) network.push(`node port ${p.nodePort}/${p.protocol}`);
    if (p.published !== undefined) network.push(`published port ${p.published}/${p.protocol}`);
  }
  for (const ip of spec.externalIPs) network.push(`external address ${ip}`);
  if (network.length > 0) out.push({ kind: 'network', title: 'addresses and ports', items: network, optional: false, why: 'they exist only for the service: released for other services to take' });
  const dns = [`${name}.${grid}.${domain}`];
  if (spec.stateful || spec.clusterIP === 'None') for (const slot of [...new Set(live.map((i) => i.slot))].sort((a, b) => a - b)) dns.push(`${name}-${slot}.${grid}.${domain}`);
  out.push({ kind: 'dns', title: 'DNS names', items: dns, optional: false, why: 'they exist only for the service: they stop resolving' });
  if (spec.endpoints && spec.endpoints.length > 0) {
    out.push({ kind: 'endpoints', title: 'hand-set endpoints', items: [...spec.endpoints], optional: false, why: 'they are part of the service: forgotten with it (the machines behind them are not touched)' });
  }
  return out;
}

/** The DELETE request the page sends: the version read, and `volumes` only when the data is ticked. */
export function deleteRequest(service: Service, tickedData: boolean): { readonly version: number; readonly volumes?: true } {
  return { version: service.version, ...(tickedData ? { volumes: true as const } : {}) };
}

/** What the page says after the DELETE: what goes, what is kept, how to remove the kept data later. */
export interface DeleteOutcome {
  readonly removed: readonly string[];
  readonly kept: readonly string[];
  readonly hint?: string;
}

/** The outcome of deleting with `plan` and the data ticked or not (the CLI's `service rm` wording). */
export function deleteOutcome(name: string, plan: readonly AssociatedResource[], tickedData: boolean): DeleteOutcome {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const r of plan) {
    if (r.optional && !tickedData) kept.push(...r.items.map((i) => `per-slot data, ${i}`));
    else if (r.kind === 'data') removed.push(...r.items.map((i) => `per-slot data, ${i}`));
    else removed.push(r.kind === 'instances' ? r.title : `${r.title}: ${r.items.join(', ')}`);
  }
  const hasData = plan.some((r) => r.kind === 'data');
  return {
    removed,
    kept,
    ...(hasData && !tickedData
      ? { hint: `Its data directories are kept (a new service named ${name} would find and use them); delete them by hand when they are no longer needed; \`berth service rm --volumes ${name}\` removes a service together with its data` }
      : {}),
  };
}
