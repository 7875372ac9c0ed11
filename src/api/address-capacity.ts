import { CodedError, parseCidr } from '../lib/index.js';
import type { FieldError, Service, ServiceSpec, SpecLimits } from '../model/index.js';
import { formatFieldError, specLimitErrors } from '../model/index.js';
import type { Store } from '../store/index.js';

/*
 * Instance addresses are handed out by the controller (one per instance, from the instance range), but
 * a deploy that cannot get them must be refused where the user is: at the API, with 422 and how many
 * are left — not left to the controller, which could only log the shortage on every retry.
 *
 * The rule is a reservation: every deployed, running service holds as many addresses as it runs
 * instances (its replicas, plus one batch for start-first updates, whose new instance starts before the
 * old one stops); a stopped or removing service holds the addresses of its instances still alive, and
 * so does one whose deployed spec is past the server's limits (the controller runs nothing new for it).
 * A deploy may ask for what the range holds minus what the other services hold.
 */

/** A deploy that needs more instance addresses than the range has left (HTTP 422). */
export class InstanceAddressesExhaustedError extends CodedError {
  constructor(name: string, cause: FieldError, details: { readonly range: string; readonly size: number; readonly left: number; readonly needed: number }) {
    super('ADDRESS_EXHAUSTED', `Service "${name}" is invalid: ${formatFieldError(cause)}`, { ...details, causes: [{ ...cause, message: formatFieldError(cause) }] });
  }
}

/**
 * How many instance addresses a deployed spec holds: replicas (one per ready node for global), plus one
 * update batch when updates start the new instance first; none without containers.
 */
export function addressesNeeded(spec: ServiceSpec, readyNodes: number): number {
  if (spec.containers.length === 0) return 0;
  if (spec.mode === 'global') return readyNodes;
  const surge = spec.updateConfig.order === 'start-first' && !spec.stateful ? Math.min(spec.updateConfig.parallelism === 0 ? spec.replicas : spec.updateConfig.parallelism, spec.replicas) : 0;
  return spec.replicas + surge;
}

/**
 * Refuses a deploy of `spec` as service `grid/name` when the instance range cannot hold it next to
 * every other service.
 * @param options.field  the field the count came from (`spec.replicas`; `replicas` for scale)
 * @throws InstanceAddressesExhaustedError (422 ADDRESS_EXHAUSTED) with `details.left`
 */
export function checkInstanceAddresses(
  store: Store,
  service: { readonly grid: string; readonly name: string; readonly spec: ServiceSpec },
  options: { readonly range: string; readonly field: string; readonly limits: SpecLimits },
): void {
  const readyNodes = store.listNodes().filter((n) => n.ready).length;
  const needed = addressesNeeded(service.spec, readyNodes);
  if (needed === 0) return;
  const { first, last } = parseCidr(options.range);
  const size = Math.max(0, last - first + 1);
  const alive = new Map<string, number>();
  for (const i of store.listInstances({ active: true })) {
    const key = `${i.grid}/${i.service}`;
    alive.set(key, (alive.get(key) ?? 0) + 1);
  }
  let held = 0;
  for (const other of store.listServices()) {
    if (other.grid === service.grid && other.name === service.name) continue;
    held += heldBy(other, alive.get(`${other.grid}/${other.name}`) ?? 0, { readyNodes, limits: options.limits });
  }
  const left = Math.max(0, size - held);
  if (needed > left) throw exhausted(service, options, { size, left, needed, held });
}

function heldBy(service: Service, alive: number, ctx: { readonly readyNodes: number; readonly limits: SpecLimits }): number {
  if (service.desired !== 'running' || service.deployment === null || !runnable(service.deployment.spec, ctx.limits)) return alive;
  return Math.max(alive, addressesNeeded(service.deployment.spec, ctx.readyNodes));
}

/** False for a deployed spec the controller will not run (past the limits, or a malformed stored row). */
function runnable(spec: ServiceSpec, limits: SpecLimits): boolean {
  try {
    return specLimitErrors(spec, limits).length === 0;
  } catch {
    return false;
  }
}

function exhausted(
  service: { readonly name: string; readonly spec: ServiceSpec },
  options: { readonly range: string; readonly field: string },
  n: { readonly size: number; readonly left: number; readonly needed: number; readonly held: number },
): InstanceAddressesExhaustedError {
  const { spec } = service;
  const surge = spec.mode === 'replicated' ? n.needed - spec.replicas : 0;
  const what = spec.mode === 'global' ? `${n.needed} instance address(es), one per node` : `${n.needed} instance address(es)${surge > 0 ? ` (${spec.replicas} replicas + ${surge} for start-first updates)` : ''}`;
  const detail =
    `needs ${what}, but only ${n.left} of the ${n.size} addresses of the instance range ${options.range} are left` +
    `${n.held > 0 ? ` (other services hold ${n.held})` : ''}; scale this or other services down, or give the server a wider range (BERTH_INSTANCE_RANGE)`;
  const cause: FieldError = { field: options.field, type: 'Invalid value', value: spec.mode === 'global' ? 'global' : spec.replicas, detail };
  return new InstanceAddressesExhaustedError(service.name, cause, { range: options.range, size: n.size, left: n.left, needed: n.needed });
}
