import type { Service, ServiceEndpoints, ServiceSpec } from '../../model/index.js';
import { serviceSpec } from './fixtures.js';

/* The stub API's spec handling: defaults filled in as the real schema does, and the endpoints of a spec. */

/** What a service's endpoints route answers before any instance is ready. */
export function endpointsOf(s: Service): ServiceEndpoints {
  const { spec } = s;
  return {
    grid: s.grid,
    service: s.name,
    type: spec.type,
    ...(spec.clusterIP && spec.clusterIP !== 'None' ? { clusterIP: spec.clusterIP } : {}),
    headless: spec.clusterIP === 'None',
    ...(spec.externalName ? { externalName: spec.externalName } : {}),
    externalIPs: spec.externalIPs,
    loadBalancerIPs: spec.type === 'LoadBalancer' ? ['127.0.0.1'] : [],
    ports: spec.ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol, port: p.port, ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }) })),
    endpoints: [],
    sessionAffinity: spec.sessionAffinity === 'ClientIP' ? { type: 'ClientIP', timeoutSeconds: spec.sessionAffinityConfig?.clientIP.timeoutSeconds ?? 10_800 } : { type: 'None' },
    publishNotReadyAddresses: spec.publishNotReadyAddresses,
  };
}

type Loose = Record<string, unknown>;

/** Fills defaults the way the real schema does for the fields the CLI sends; refuses a container without command or image. */
export function normalize(raw: unknown, root: string): ServiceSpec {
  const input = (raw ?? {}) as Loose;
  const name = String(input['name'] ?? '');
  const base = serviceSpec({ name });
  const containers = Array.isArray(input['containers']) ? (input['containers'] as Loose[]) : [];
  const causes = containers.flatMap((c, i) =>
    c['command'] === undefined && c['image'] === undefined
      ? [{ field: `${root}.containers[${i}].command`, type: 'Required value', message: `${root}.containers[${i}].command: Required value` }]
      : [],
  );
  // As the real schema: no containers only for ExternalName, a selector, or hand-set endpoints.
  const networkOnly = input['type'] === 'ExternalName' || input['selector'] !== undefined || input['endpoints'] !== undefined;
  if (containers.length === 0 && !networkOnly) causes.push({ field: `${root}.containers`, type: 'Required value', message: `${root}.containers: Required value` });
  if (causes.length > 0) {
    throw {
      status: 400,
      code: 'SPEC_INVALID',
      message: `Service "${name}" is invalid: ${causes.map((c) => c.message).join(', ')}`,
      details: { causes },
    } satisfies { status: number; code: string; message: string; details: Record<string, unknown> };
  }
  const mode = input['mode'] === 'global' ? 'global' : 'replicated';
  const { instances, replicas, ...rest } = input;
  return {
    ...base,
    ...(rest as Partial<ServiceSpec>),
    mode,
    replicas: mode === 'global' ? 0 : Number(replicas ?? instances ?? 1),
    containers: containers.map((c) => ({
      ...base.containers[0]!,
      workingDir: undefined as unknown as string,
      ...(c as Partial<ServiceSpec['containers'][number]>),
      name: (c['name'] as string | undefined) ?? name,
      command: typeof c['command'] === 'string' ? ['/bin/sh', '-c', c['command']] : (c['command'] as string[] | undefined),
      env: Array.isArray(c['env']) ? (c['env'] as { name: string; value: string }[]) : [],
      ports: ((c['ports'] as Loose[] | undefined) ?? []).map((p) => ({ protocol: 'TCP' as const, ...(p as { containerPort: number }) })),
    })),
    restartPolicy: { ...base.restartPolicy, ...(input['restartPolicy'] as Loose | undefined) },
    updateConfig: { ...base.updateConfig, ...(input['updateConfig'] as Loose | undefined) },
    ports: ((input['ports'] as Loose[] | undefined) ?? []).map((p) => ({ protocol: 'TCP' as const, targetPort: p['port'] as number, ...(p as { port: number }) })),
    labels: (input['labels'] as Record<string, string> | undefined) ?? {},
  };
}
