import { machine, platform } from 'node:os';
import type { NodeFacts, ServiceSpec } from '../model/index.js';
import { SpecInvalidError, placementProblems } from '../model/index.js';
import type { Store } from '../store/index.js';
import { nodeId } from './docker/swarm-objects.js';

/**
 * Refuses a spec whose placement no node can meet (400, each failing field with the nodes' values),
 * when it is stored: Swarm would store it and leave its tasks pending ("no suitable node"); berth says
 * so at once. Nothing is checked before a node has registered (tests, a server still starting).
 * A node's os and architecture are this machine's (every node runs here until agents join from others);
 * its role is `manager` and it has no labels, as the Docker face's /nodes shows it.
 * @throws SpecInvalidError (400) naming `spec.placement.constraints[i]`, `.platforms` or `.maxReplicasPerNode`
 */
export function checkPlacement(store: Store, spec: ServiceSpec): void {
  const placement = spec.placement;
  if (placement === undefined) return;
  const nodes = store.listNodes();
  if (nodes.length === 0) return;
  const facts: NodeFacts[] = nodes.map((n) => ({ name: n.name, id: nodeId(n.name), role: 'manager', os: platform(), arch: machine(), labels: {}, engineLabels: {} }));
  const replicas = spec.mode === 'global' ? 1 : spec.replicas;
  const errors = placementProblems(placement, replicas, facts, 'spec.placement');
  if (errors.length > 0) throw new SpecInvalidError('Service', spec.name, errors);
}
