import type { DeployState, Service, ServiceSpec, WorkloadField } from '../model/index.js';

/*
 * The CLI's copy of model/deploy-state.ts (the CLI may import only types from model/, docs/architecture.md):
 * what `deploy` would change now, so that update, create, show and ls say what took effect and what
 * waits. deploy-state-view.test.ts checks that both copies agree.
 */

/** The spec fields a deploy rolls out; the network face and labels are in effect once stored. */
export const WORKLOAD_FIELDS = ['mode', 'replicas', 'stateful', 'containers', 'placement', 'restartPolicy', 'updateConfig', 'rollbackConfig', 'drainTimeout'] as const satisfies readonly WorkloadField[];

/** Where the service's spec stands against its deployment (model's DeployState). */
export function deployStateOf(service: Pick<Service, 'spec' | 'deployment'>): DeployState {
  const { spec, deployment } = service;
  if (spec.containers.length === 0 && (deployment?.spec.containers.length ?? 0) === 0) return { kind: 'network-only' };
  if (!deployment) return { kind: 'never-deployed' };
  const fields = WORKLOAD_FIELDS.filter((f) => canonical(deployment.spec[f]) !== canonical(spec[f]));
  return fields.length > 0 ? { kind: 'behind', fields } : { kind: 'deployed' };
}

/** "no containers: serves 2 endpoints set by hand" (model's describeNetworkOnly). */
export function describeNetworkOnly(spec: ServiceSpec): string {
  if (spec.type === 'ExternalName') return `no containers: an alias of ${spec.externalName ?? '?'} (DNS answers with a CNAME)`;
  if (spec.selector !== undefined) {
    const labels = Object.entries(spec.selector).map(([k, v]) => `${k}=${v}`).join(',');
    return `no containers: serves the instances of the grid's services labelled ${labels}`;
  }
  const n = spec.endpoints?.length ?? 0;
  return `no containers: serves ${n} endpoint${n === 1 ? '' : 's'} set by hand`;
}

function canonical(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
