import type { NodeFacts, ServiceSpec } from '../model/index.js';
import { SpecInvalidError, placementProblems } from '../model/index.js';
import type { Store } from '../store/index.js';
import { nodeId } from './docker/swarm-objects.js';

/**
 * Refuses a spec whose placement no node can meet (400, each failing field with the nodes' values),
 * when it is stored: Swarm would store it and leave its tasks pending ("no suitable node"); berth says
 * so at once. Nothing is checked before a node has registered (tests, a server still starting).
 * A node's labels, os and architecture are its own (model/node.ts); its role is `manager`, as the
 * Docker face's /nodes shows the server's node.
 * @throws SpecInvalidError (400) naming `spec.placement.constraints[i]`, `.platforms` or `.maxReplicasPerNode`
 */
export function checkPlacement(store: Store, spec: ServiceSpec): void {
  const placement = spec.placement;
  if (placement === undefined) return;
  const nodes = store.listNodes();
  if (nodes.length === 0) return;
  const facts: NodeFacts[] = nodes.map((n) => ({ name: n.name, id: nodeId(n.name), role: 'manager', os: n.os, arch: n.arch, labels: n.labels, engineLabels: {} }));
  const replicas = spec.mode === 'global' ? 1 : spec.replicas;
  const errors = placementProblems(placement, replicas, facts, 'spec.placement');
  if (errors.length > 0) throw new SpecInvalidError('Service', spec.name, errors);
}
