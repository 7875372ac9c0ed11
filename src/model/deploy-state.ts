import type { Instance } from './instance.js';
import type { Service, ServiceDeployment } from './service.js';
import type { ServiceSpec } from './service-spec.js';

/*
 * What `deploy` would change now. A spec has two parts that take effect differently: the workload
 * (what runs: containers, how many, how they restart and roll out) waits for a deploy, as Kontena's
 * services do; the network face (type, ports, addresses, affinity, selector, endpoints) and the labels
 * (which selectors match) take effect when stored, as an edit of a Kubernetes Service does (docs/spec.md).
 * So a spec generation past the deployed one does not by itself mean that something waits for a deploy.
 */

/** The spec fields a deploy rolls out; every other field is in effect once stored. */
export const WORKLOAD_FIELDS = ['mode', 'replicas', 'stateful', 'containers', 'placement', 'restartPolicy', 'updateConfig', 'rollbackConfig', 'drainTimeout'] as const satisfies readonly (keyof ServiceSpec)[];

export type WorkloadField = (typeof WORKLOAD_FIELDS)[number];

export type DeployState =
  /** No containers, now or deployed: the service is its network face alone, in effect since stored. */
  | { readonly kind: 'network-only' }
  /** It has containers and was never deployed: nothing runs until `deploy`. */
  | { readonly kind: 'never-deployed' }
  /** The workload differs from the deployed one in `fields`: those wait for `deploy`. */
  | { readonly kind: 'behind'; readonly fields: readonly WorkloadField[] }
  /** What runs is what the spec asks (later generations changed only what is in effect at once). */
  | { readonly kind: 'deployed' };

/** Workload fields whose values differ between two specs, in WORKLOAD_FIELDS order. */
export function workloadChanges(before: ServiceSpec, after: ServiceSpec): WorkloadField[] {
  return WORKLOAD_FIELDS.filter((f) => canonicalJson(before[f]) !== canonicalJson(after[f]));
}

/** Where the service's spec stands against its deployment (see DeployState). */
export function deployStateOf(service: Pick<Service, 'spec' | 'deployment'>): DeployState {
  const { spec, deployment } = service;
  const deployedContainers = deployment?.spec.containers.length ?? 0;
  if (spec.containers.length === 0 && deployedContainers === 0) return { kind: 'network-only' };
  if (!deployment) return { kind: 'never-deployed' };
  const fields = workloadChanges(deployment.spec, spec);
  return fields.length > 0 ? { kind: 'behind', fields } : { kind: 'deployed' };
}

/**
 * JSON with object keys sorted: equal values give equal strings whatever the key order (a spec stored
 * through the Docker face lists a container's fields in another order than one stored by berth's own
 * API, and a rollback stores the older spec's order again).
 */
export function canonicalJson(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/**
 * What a service without containers serves, in words: "no containers: serves 2 endpoints set by
 * hand", "… the instances of services labelled app=shop", "… an alias of db.example.org (a CNAME)".
 */
export function describeNetworkOnly(spec: ServiceSpec): string {
  if (spec.type === 'ExternalName') return `no containers: an alias of ${spec.externalName ?? '?'} (DNS answers with a CNAME)`;
  if (spec.selector !== undefined) {
    const labels = Object.entries(spec.selector).map(([k, v]) => `${k}=${v}`).join(',');
    return `no containers: serves the instances of the grid's services labelled ${labels}`;
  }
  const n = spec.endpoints?.length ?? 0;
  return `no containers: serves ${n} endpoint${n === 1 ? '' : 's'} set by hand`;
}

/**
 * Whether an instance runs what its service's deployment asks: the deployment's restart generation, and
 * its generation or the very same containers (compared as values: key order does not count). A change of replicas, restart policy or rollout settings
 * replaces no instance, as a Deployment's pod-template hash ignores its replica count; such instances
 * count as updated in a rollout (UpdateStatus.updatedInstances). The planner (reconcile/plan-service.ts)
 * also moves instances whose node no longer fits the placement; that is not judged here.
 */
export function runsDeployment(
  instance: Pick<Instance, 'generation' | 'restartGeneration' | 'spec'>,
  deployment: Pick<ServiceDeployment, 'generation' | 'restartGeneration' | 'spec'>,
): boolean {
  if (instance.restartGeneration !== deployment.restartGeneration) return false;
  return instance.generation === deployment.generation || sameJsonValue(instance.spec.containers, deployment.spec.containers);
}

/**
 * Whether two values are equal as JSON values, whatever the key order of their objects: their JSON
 * texts first (the common case, and about 6× cheaper), canonicalJson only when those differ.
 */
export function sameJsonValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b) || canonicalJson(a) === canonicalJson(b);
}
