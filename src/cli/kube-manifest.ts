/*
 * Kubernetes objects in a berth manifest (`apiVersion` and `kind`), so that the YAML of the
 * Kubernetes and KubeSphere pages applies as written (`berth apply -f nginx-svc.yaml`). berth's spec
 * already uses Kubernetes' Service and container fields, so the translation is mostly moving them:
 *
 * - `v1` `Service` → a service without containers: `metadata.name`, `.namespace` (the grid), `.labels`
 *   and `.annotations`, and its `spec` as it is (type, ports, selector, clusterIP, externalIPs,
 *   externalName, sessionAffinity…). Its selector serves the instances of the grid's services whose
 *   labels match — a Deployment's below.
 * - `apps/v1` `Deployment` → a replicated service: `spec.replicas` (default 1), the pod template's
 *   labels (what a Service selects) and containers. A container's fields keep their names (image,
 *   command, args, env, ports, probes, imagePullPolicy, workingDir); `resources.requests` become
 *   `reservations` and `cpu` (`500m`, `0.5`) `cpus`. The selector must match the template's labels,
 *   as the API server requires.
 * - `apps/v1` `StatefulSet` → the same, `stateful` (stable slots, ordered start, a data directory per
 *   slot); its `serviceName` is dropped (berth names every slot in DNS already).
 * - `apps/v1` `DaemonSet` → the same in `global` mode: one instance per eligible node.
 *
 * A Deployment and a Service of the same name whose selector selects the Deployment's pods (how
 * Kubernetes users, and KubeSphere's "Name … used in both configurations", write them) become one berth
 * service: the Deployment's workload with the Service's network face, serving its own instances.
 *
 * Anything else is passed on as written, and berth's validation names what it does not take, at the
 * place it is written. Other kinds and versions are refused here, naming what is read.
 */

/** A Kubernetes object translated into a berth manifest document. */
export interface KubeDocument {
  readonly kind: 'Service' | WorkloadKind;
  /** The manifest form: `grid`, `name` and the spec's fields at the top. */
  readonly document: Record<string, unknown>;
  /** Where a top-level spec field's value is written in the original document (for error locations). */
  readonly pathOf: (field: string) => readonly string[];
}

/** A Kubernetes object berth cannot read, with the path of the key to point at. */
export class KubeManifestError extends Error {
  constructor(
    message: string,
    readonly path: readonly (string | number)[],
  ) {
    super(message);
    this.name = 'KubeManifestError';
  }
}

/** What the translation reads: apiVersion/kind pairs. */
const KINDS = '`v1` `Service` and `apps/v1` `Deployment`, `StatefulSet` and `DaemonSet`';

/** The apps/v1 kinds read, each a berth service with the pod template's containers. */
type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';
const WORKLOADS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

/**
 * The berth form of a Kubernetes object, or undefined for a document that is not one (no `apiVersion`).
 * @throws KubeManifestError for another kind or version, a missing `metadata.name`, a pod template
 *   without containers, or a Deployment selector that does not match the template's labels
 */
export function fromKubernetes(raw: Record<string, unknown>): KubeDocument | undefined {
  const apiVersion = raw['apiVersion'];
  if (apiVersion === undefined) return undefined;
  const kind = raw['kind'];
  const metadata = mapping(raw['metadata'], ['metadata']);
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') throw new KubeManifestError('a Kubernetes object needs metadata.name', ['metadata']);
  const common = {
    ...(typeof metadata['namespace'] === 'string' ? { grid: metadata['namespace'] } : {}),
    name,
    ...(metadata['annotations'] !== undefined ? { annotations: metadata['annotations'] } : {}),
  };
  if (apiVersion === 'v1' && kind === 'Service') {
    const spec = mapping(raw['spec'] ?? {}, ['spec']);
    return {
      kind: 'Service',
      document: { ...common, ...(metadata['labels'] !== undefined ? { labels: metadata['labels'] } : {}), ...spec },
      pathOf: (field) => (field === 'name' ? ['metadata', 'name'] : field === 'labels' || field === 'annotations' ? ['metadata', field] : ['spec', field]),
    };
  }
  if (apiVersion === 'apps/v1' && WORKLOADS.includes(kind as WorkloadKind)) return workload(kind as WorkloadKind, raw, common);
  throw new KubeManifestError(`apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)} is not read: berth reads ${KINDS} (or its own service specs)`, kind === undefined ? ['apiVersion'] : ['kind']);
}

function workload(kind: WorkloadKind, raw: Record<string, unknown>, common: Record<string, unknown>): KubeDocument {
  const spec = mapping(raw['spec'], ['spec']);
  const template = mapping(spec['template'], ['spec', 'template']);
  const podMeta = mapping(template['metadata'] ?? {}, ['spec', 'template', 'metadata']);
  const pod = mapping(template['spec'], ['spec', 'template', 'spec']);
  // The pod template's labels: what a Service's selector matches (the Deployment's own are not the pods').
  const labels = mapping(podMeta['labels'] ?? {}, ['spec', 'template', 'metadata', 'labels']);
  const selector = spec['selector'] === undefined ? {} : mapping(spec['selector'], ['spec', 'selector']);
  const match = mapping(selector['matchLabels'] ?? {}, ['spec', 'selector', 'matchLabels']);
  for (const [k, v] of Object.entries(match)) {
    if (labels[k] !== v) throw new KubeManifestError(`selector matchLabels ${k}: ${JSON.stringify(v)} does not match the template's labels (\`selector\` does not match template \`labels\`)`, ['spec', 'selector', 'matchLabels', k]);
  }
  const { containers, ...podRest } = pod;
  if (!Array.isArray(containers) || containers.length === 0) throw new KubeManifestError(`spec.template.spec.containers: Required value: a ${kind} runs one container or more`, ['spec', 'template', 'spec']);
  // Whatever else the Deployment and its pod spec say (strategy, volumes, nodeSelector …) is passed on,
  // so that berth's validation names it at its place rather than it being dropped without a word.
  const { replicas, selector: _s, template: _t, ...specRest } = spec;
  // A StatefulSet's governing headless Service: berth gives every slot its DNS name without one.
  if (kind === 'StatefulSet') delete specRest['serviceName'];
  return {
    kind,
    document: {
      ...specRest,
      ...podRest,
      ...common,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(kind === 'DaemonSet' ? { mode: 'global' } : { replicas: replicas ?? 1 }),
      ...(kind === 'StatefulSet' ? { stateful: true } : {}),
      containers: containers.map((c, i) => container(c, ['spec', 'template', 'spec', 'containers', i])),
    },
    pathOf: (field) => {
      if (field === 'name') return ['metadata', 'name'];
      if (field === 'annotations') return ['metadata', 'annotations'];
      if (field === 'labels') return ['spec', 'template', 'metadata', 'labels'];
      if (field === 'containers' || field in podRest) return ['spec', 'template', 'spec', field];
      return ['spec', field];
    },
  };
}

/** A pod template's container as berth's: `resources` in berth's words, the rest as written. */
function container(value: unknown, at: readonly (string | number)[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const { resources, ...rest } = value as Record<string, unknown>;
  if (resources === undefined) return rest;
  const r = mapping(resources, [...at, 'resources']);
  const amounts = (v: unknown, where: string): Record<string, unknown> => {
    const { cpu, ...others } = mapping(v, [...at, 'resources', where]);
    return { ...others, ...(cpu !== undefined ? { cpus: cpus(cpu, [...at, 'resources', where, 'cpu']) } : {}) };
  };
  return {
    ...rest,
    resources: {
      ...(r['limits'] !== undefined ? { limits: amounts(r['limits'], 'limits') } : {}),
      ...(r['requests'] !== undefined ? { reservations: amounts(r['requests'], 'requests') } : {}),
    },
  };
}

/** Kubernetes' CPU quantity (`500m`, `0.5`, `2`) as a number of CPUs. */
function cpus(value: unknown, at: readonly (string | number)[]): number {
  if (typeof value === 'number') return value;
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(m?)$/.exec(value.trim()) : null;
  if (!m) throw new KubeManifestError(`cpu ${JSON.stringify(value)} is not a CPU quantity such as 500m or 0.5`, at);
  return m[2] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
}

function mapping(value: unknown, at: readonly (string | number)[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new KubeManifestError(`${at.join('.')} must be a mapping`, at);
  return value as Record<string, unknown>;
}

/** Fields of a Service document that are not its network face when it is merged with its Deployment. */
const SERVICE_IDENTITY = ['name', 'grid', 'labels', 'annotations', 'selector'];

/**
 * One berth service from a Deployment and a Service of the same name (either order): the Deployment's
 * workload and labels, the Service's network face (type, ports, clusterIP …); its selector is dropped,
 * since a berth service serves its own instances. `fromService(field)` says whether a top-level field
 * came from the Service (for error locations).
 * @returns why they cannot be one service (two of one kind; a selector that does not select the pods)
 */
export function mergeWorkloadAndService(a: KubeDocument, b: KubeDocument): { readonly document: Record<string, unknown>; readonly fromService: (field: string) => boolean } | string {
  if (a.kind === b.kind) return `two ${a.kind}s have this name`;
  if (a.kind !== 'Service' && b.kind !== 'Service') return `a ${a.kind} and a ${b.kind} have this name`;
  const [workload, service] = a.kind === 'Service' ? [b, a] : [a, b];
  const labels = (workload.document['labels'] ?? {}) as Record<string, unknown>;
  const selector = service.document['selector'];
  const selects = selector !== null && typeof selector === 'object' && !Array.isArray(selector) && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
  if (!selects) return `the Service's selector does not select the ${workload.kind}'s pods (give them other names, or make spec.selector match the pod template's labels)`;
  const network = Object.fromEntries(Object.entries(service.document).filter(([k]) => !SERVICE_IDENTITY.includes(k)));
  const serviceLabels = (service.document['labels'] ?? {}) as Record<string, unknown>;
  const annotations = { ...((service.document['annotations'] ?? {}) as Record<string, unknown>), ...((workload.document['annotations'] ?? {}) as Record<string, unknown>) };
  return {
    document: {
      ...workload.document,
      ...network,
      labels: { ...serviceLabels, ...labels },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    fromService: (field) => field in network,
  };
}
