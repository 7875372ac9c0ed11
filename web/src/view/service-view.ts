import type { Service, ServiceSpec } from '../../../src/model/index.js';

/** KubeSphere's service types, in berth's terms (docs/console.md, "Create"). */
export type ServiceKind = 'stateless' | 'stateful' | 'external' | 'workloads' | 'manual';

/**
 * What kind of service a spec is: ExternalName → external; no containers and a selector → workloads
 * (KubeSphere's "Specify Workloads"); no containers and hand-set endpoints → manual; `stateful` →
 * stateful; else stateless.
 */
export function serviceKind(spec: ServiceSpec): ServiceKind {
  if (spec.type === 'ExternalName') return 'external';
  if (spec.containers.length === 0 && spec.selector) return 'workloads';
  if (spec.containers.length === 0) return 'manual';
  return spec.stateful ? 'stateful' : 'stateless';
}

/** The display name KubeSphere calls alias (annotation `berth.io/alias`), when set. */
export const ALIAS_ANNOTATION = 'berth.io/alias';
export function aliasOf(service: Service): string | undefined {
  const annotations = (service.spec as { annotations?: Readonly<Record<string, string>> }).annotations;
  return annotations?.[ALIAS_ANNOTATION];
}

/** `10.96.0.3`, `headless`, or `—` for a service without one (ExternalName). */
export function accessOf(spec: ServiceSpec): string {
  if (spec.type === 'ExternalName') return spec.externalName ?? '—';
  if (spec.clusterIP === 'None') return 'headless';
  return spec.clusterIP || '—';
}

/** Where the service is reachable from outside: `node :30080`, `published :8080`, external IPs. */
export function exposureOf(spec: ServiceSpec): string[] {
  const out: string[] = [];
  for (const p of spec.ports) {
    if (p.nodePort) out.push(`node :${p.nodePort}/${p.protocol}`);
    if (p.published) out.push(`published :${p.published}/${p.protocol}`);
  }
  for (const ip of spec.externalIPs) out.push(`${ip} (external)`);
  return out;
}

/** Whether a service matches a search text (name, alias or label) and every `key=value` / `key` filter. */
export function matchesFilter(service: Service, search: string, labelFilter: string): boolean {
  const text = search.trim().toLowerCase();
  if (text && !service.name.includes(text) && !(aliasOf(service)?.toLowerCase().includes(text) ?? false)) return false;
  for (const term of labelFilter.split(',').map((t) => t.trim()).filter(Boolean)) {
    const [key, value] = term.split('=', 2) as [string, string | undefined];
    if (!(key in service.spec.labels)) return false;
    if (value !== undefined && service.spec.labels[key] !== value) return false;
  }
  return true;
}
