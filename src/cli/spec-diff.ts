import type { ContainerSpec, ServiceSpec } from '../model/index.js';

/** Container fields that each get their own word in a change summary; the rest count as "container". */
const CONTAINER_WORDS: readonly [keyof ContainerSpec | readonly (keyof ContainerSpec)[], string][] = [
  ['image', 'image'],
  [['command', 'args'], 'command'],
  ['env', 'env'],
  ['ports', 'container ports'],
  [['readinessProbe', 'livenessProbe', 'startupProbe', 'healthcheck'], 'probes'],
];

/** Service fields of the network face, summarized as one word. */
const NETWORK_FIELDS: readonly (keyof ServiceSpec)[] = [
  'type', 'ports', 'clusterIP', 'externalIPs', 'externalName', 'sessionAffinity', 'sessionAffinityConfig', 'selector', 'endpoints', 'publishNotReadyAddresses',
];

const SERVICE_WORDS: readonly [keyof ServiceSpec, string][] = [
  ['mode', 'mode'],
  ['stateful', 'stateful'],
  ['labels', 'labels'],
  ['restartPolicy', 'restart policy'],
  ['updateConfig', 'update config'],
  ['rollbackConfig', 'rollback config'],
  ['drainTimeout', 'drain timeout'],
];

/**
 * A short summary of what changed from one spec version to the next, for `service history`:
 * "image, command changed; replicas 3→5", "no change" (a redeploy of the same spec), or "" without a
 * previous version.
 */
export function describeSpecChange(previous: ServiceSpec | undefined, next: ServiceSpec): string {
  if (!previous) return '';
  const changed: string[] = [];
  if (previous.containers.length !== next.containers.length) {
    changed.push('containers');
  } else {
    const words = new Set<string>();
    previous.containers.forEach((before, k) => {
      const after = next.containers[k] as ContainerSpec;
      const covered = new Set<string>();
      for (const [fields, word] of CONTAINER_WORDS) {
        const list = (Array.isArray(fields) ? fields : [fields]) as (keyof ContainerSpec)[];
        list.forEach((f) => covered.add(f));
        if (list.some((f) => differs(before[f], after[f]))) words.add(word);
      }
      const keys = new Set([...Object.keys(before), ...Object.keys(after)].filter((key) => !covered.has(key)));
      if ([...keys].some((key) => differs(before[key as keyof ContainerSpec], after[key as keyof ContainerSpec]))) words.add('container');
    });
    changed.push(...words);
  }
  for (const [field, word] of SERVICE_WORDS) if (differs(previous[field], next[field])) changed.push(word);
  if (NETWORK_FIELDS.some((f) => differs(previous[f], next[f]))) changed.push('network');
  const parts: string[] = [];
  if (changed.length > 0) parts.push(`${changed.join(', ')} changed`);
  if (previous.replicas !== next.replicas && next.mode === 'replicated') parts.push(`replicas ${previous.replicas}→${next.replicas}`);
  return parts.length > 0 ? parts.join('; ') : 'no change';
}

/**
 * What changed between two specs that took effect when stored (docs/spec.md): "network", "labels",
 * both, or none.
 */
export function liveChanges(previous: ServiceSpec, next: ServiceSpec): string[] {
  const out: string[] = [];
  if (NETWORK_FIELDS.some((f) => differs(previous[f], next[f]))) out.push('network');
  if (differs(previous.labels, next.labels)) out.push('labels');
  return out;
}

function differs(a: unknown, b: unknown): boolean {
  return canonical(a) !== canonical(b);
}

function canonical(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  });
}
