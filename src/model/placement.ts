import { z } from 'zod';
import type { FieldError } from './field-error.js';
import { LIMITS } from './limits.js';
import type { NodeInfo } from './node.js';
import { swarmId } from '../lib/index.js';

/*
 * Swarm's placement (TaskTemplate.Placement): constraints `key==value` / `key!=value` on the nodes'
 * attributes, spread preferences, the platforms the image runs on, and a maximum of replicas per node.
 * The spec stores them; the API checks them against the nodes when the spec is stored
 * (placementProblems), so a spec no node can run is refused with the field and each node's values
 * instead of being stored with instances that never start (Swarm's task stays pending with "no
 * suitable node").
 */

/** swarmkit `manager/constraint/constraint.go`: a key, and a value without operator characters. */
const CONSTRAINT_KEY = /^[a-z_][a-z0-9\-_.]+$/i;
const CONSTRAINT_VALUE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const OPERATORS = ['==', '!='] as const;

/** One parsed constraint. The key is lower-cased for `node.*`/`engine.*` names (swarmkit compares them case-insensitively). */
export interface PlacementConstraint {
  readonly key: string;
  readonly operator: '==' | '!=';
  readonly value: string;
}

/**
 * Parses `node.role==manager` as swarmkit does: the first operator splits key and value, both trimmed.
 * @throws Error with swarmkit's message (`constraint expected one operator from ==, !=`, `key 'x' is invalid`, `value 'x' is invalid`)
 */
export function parseConstraint(text: string): PlacementConstraint {
  for (const operator of OPERATORS) {
    const at = text.indexOf(operator);
    if (at < 0) continue;
    const key = text.slice(0, at).trim();
    const value = text.slice(at + operator.length).trim();
    if (!CONSTRAINT_KEY.test(key)) throw new Error(`key '${key}' is invalid`);
    if (!CONSTRAINT_VALUE.test(value)) throw new Error(`value '${value}' is invalid`);
    return { key, operator, value };
  }
  throw new Error('constraint expected one operator from ==, !=');
}

const constraint = z
  .string()
  .max(LIMITS.textLength)
  .superRefine((v, ctx) => {
    try {
      parseConstraint(v);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `${(error as Error).message} (a constraint is key==value or key!=value, e.g. node.role==manager)`, params: { type: 'Invalid value' } });
    }
  });

export const PlacementSchema = z.strictObject({
  /** All must hold on a node for an instance to run there (Swarm's Constraints). */
  constraints: z.array(constraint).max(LIMITS.placementRules).default([]),
  /** Swarm's spread preferences (`node.labels.zone`); on one node they change nothing. */
  preferences: z.array(z.strictObject({ spread: z.string().min(1).max(LIMITS.textLength) })).max(LIMITS.placementRules).default([]),
  /** Platforms the image runs on (the docker CLI fills them in from the image); one must be the node's. Empty: any. */
  platforms: z.array(z.strictObject({ os: z.string().max(64).optional(), architecture: z.string().max(64).optional() })).max(LIMITS.placementRules).default([]),
  /** Instances per node at most (Swarm's MaxReplicas, `--replicas-max-per-node`); 0 = unlimited. */
  maxReplicasPerNode: z.number().int().min(0).default(0),
  /**
   * berth's own, for stateful services: when the node a slot's data lives on is down or gone (or
   * drained), start the slot on another node with an empty data directory instead of waiting for the
   * node (docs/scheduling.md). Default: wait — the data is on that node.
   */
  moveStatefulSlots: z.boolean().optional(),
});
export type Placement = z.output<typeof PlacementSchema>;

/** True when the placement holds nothing (it is then left out of the stored spec). */
export function isEmptyPlacement(p: Placement): boolean {
  return p.constraints.length === 0 && p.preferences.length === 0 && p.platforms.length === 0 && p.maxReplicasPerNode === 0 && p.moveStatefulSlots !== true;
}

/** What a constraint may be matched against on one node (Swarm's node attributes). */
export interface NodeFacts {
  /** The node's name (`node.hostname`, and accepted as `node.id`). */
  readonly name: string;
  /** Its Swarm-style id as the Docker face shows it (`node.id`). */
  readonly id: string;
  /** `manager` (a berth node on one machine is Swarm's single manager). */
  readonly role: string;
  /** `linux` (Go's GOOS). */
  readonly os: string;
  /** `x86_64`, `aarch64` … (`uname -m`, what Swarm's node.platform.arch shows). */
  readonly arch: string;
  /** node.labels.* and engine.labels.*: berth nodes have none yet. */
  readonly labels: Readonly<Record<string, string>>;
  readonly engineLabels: Readonly<Record<string, string>>;
}

/** The Swarm-style id of a berth node (what the Docker face shows, and `node.id==…` matches): stable, from its name. */
export function swarmNodeId(name: string): string {
  return swarmId('node', name);
}

/**
 * What constraints see of a registered node: its name and Swarm id, role `manager` (berth runs no
 * workers-only managers: every node is shown as Swarm's manager), platform, and its labels
 * (`node.labels.*`; berth has no engine labels).
 */
export function nodeFacts(node: Pick<NodeInfo, 'name' | 'os' | 'arch' | 'labels'>): NodeFacts {
  return { name: node.name, id: swarmNodeId(node.name), role: 'manager', os: node.os, arch: node.arch, labels: node.labels, engineLabels: {} };
}

/** Go's and uname's names of one architecture. */
const ARCH_ALIASES: Readonly<Record<string, string>> = { x86_64: 'amd64', amd64: 'amd64', aarch64: 'arm64', arm64: 'arm64', armv7l: 'arm', arm: 'arm', i386: '386', i686: '386', '386': '386' };

function sameArch(a: string, b: string): boolean {
  const norm = (s: string): string => ARCH_ALIASES[s.toLowerCase()] ?? s.toLowerCase();
  return norm(a) === norm(b);
}

/** The node's values a key names (several for node.id: its id and its name); undefined for a key Swarm does not know. */
function nodeValues(key: string, node: NodeFacts): readonly string[] | undefined {
  const k = key.toLowerCase();
  if (k === 'node.id') return [node.id, node.name];
  if (k === 'node.hostname') return [node.name];
  if (k === 'node.role') return [node.role];
  if (k === 'node.platform.os') return [node.os];
  if (k === 'node.platform.arch') return [node.arch];
  if (k.startsWith('node.labels.')) return [node.labels[key.slice('node.labels.'.length)]].filter((v): v is string => v !== undefined);
  if (k.startsWith('engine.labels.')) return [node.engineLabels[key.slice('engine.labels.'.length)]].filter((v): v is string => v !== undefined);
  return undefined;
}

/** The node's value of a constraint or spread key (`node.labels.zone` → "a"), or undefined when it has none or the key is unknown. */
export function nodeAttribute(key: string, node: NodeFacts): string | undefined {
  return nodeValues(key, node)?.[0];
}

/** Whether one constraint holds on a node, as swarmkit's NodeMatches: values compared case-insensitively; an unknown key never holds. */
export function constraintHolds(c: PlacementConstraint, node: NodeFacts): boolean {
  const values = nodeValues(c.key, node);
  if (values === undefined) return false;
  const match = values.some((v) => v.toLowerCase() === c.value.toLowerCase() || (c.key.toLowerCase() === 'node.platform.arch' && sameArch(v, c.value)));
  return c.operator === '==' ? match : !match;
}

/** Whether one of `platforms` is the node's (os compared case-insensitively, arch by alias: x86_64 = amd64); an empty list holds everywhere (swarmkit PlatformFilter). */
export function platformHolds(platforms: Placement['platforms'], node: Pick<NodeFacts, 'os' | 'arch'>): boolean {
  return (
    platforms.length === 0 ||
    platforms.some((p) => (p.os === undefined || p.os === '' || p.os.toLowerCase() === node.os.toLowerCase()) && (p.architecture === undefined || p.architecture === '' || sameArch(p.architecture, node.arch)))
  );
}

/**
 * Why no node can run a spec with this placement: one field error per constraint that no node meets
 * (with each node's value), for platforms none of which is a node's, and for more replicas than
 * `maxReplicasPerNode` × nodes. Empty when some node meets every constraint and platform and the
 * replicas fit. `root` is the path of the placement (`spec.placement`).
 */
export function placementProblems(placement: Placement, replicas: number, nodes: readonly NodeFacts[], root: string): FieldError[] {
  const errors: FieldError[] = [];
  const constraints = placement.constraints.map(parseConstraint);
  const platformOk = (n: NodeFacts): boolean => platformHolds(placement.platforms, n);
  const fits = nodes.filter((n) => constraints.every((c) => constraintHolds(c, n)) && platformOk(n));
  if (fits.length === 0) {
    constraints.forEach((c, i) => {
      if (nodes.some((n) => constraintHolds(c, n))) return;
      const seen = nodes.map((n) => `node ${n.name} has ${c.key}=${(nodeValues(c.key, n) ?? [])[0] ?? '(none)'}`).join(', ');
      const detail = nodeValues(c.key, nodes[0] as NodeFacts) === undefined
        ? `no node meets it: "${c.key}" is not a node attribute (node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<key>, engine.labels.<key>)`
        : `no node meets it (${seen})`;
      errors.push({ field: `${root}.constraints[${i}]`, type: 'Invalid value', value: placement.constraints[i], detail });
    });
    if (!nodes.some(platformOk)) {
      const have = nodes.map((n) => `node ${n.name} is ${n.os}/${n.arch}`).join(', ');
      errors.push({ field: `${root}.platforms`, type: 'Invalid value', value: placement.platforms, detail: `no node has one of these platforms (${have})` });
    }
    if (errors.length === 0) errors.push({ field: `${root}.constraints`, type: 'Invalid value', value: placement.constraints, detail: 'no node meets all of them together' });
  } else if (placement.maxReplicasPerNode > 0 && replicas > placement.maxReplicasPerNode * fits.length) {
    errors.push({
      field: `${root}.maxReplicasPerNode`,
      type: 'Invalid value',
      value: placement.maxReplicasPerNode,
      detail: `${replicas} replicas do not fit: ${fits.length} ${fits.length === 1 ? 'node meets' : 'nodes meet'} the placement, each runs at most ${placement.maxReplicasPerNode}`,
    });
  }
  return errors;
}
