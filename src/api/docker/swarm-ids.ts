import { SWARM_ID_LENGTH, swarmId } from './swarm-objects.js';

export { SWARM_ID_LENGTH };

/**
 * The stable Swarm-style node id the Docker face shows for a berth node: swarm-objects.ts' `swarmId`
 * of the node name (25 base-36 characters, as swarmkit's `identity.NewID`, derived from the name so it
 * is the same across restarts). One id per node on every route that shows it — /nodes, tasks' NodeID,
 * the log details `com.docker.swarm.node.id` — which the CLI's progress display relies on: it skips a
 * task whose NodeID is not among the /nodes ids.
 */
export function nodeIdOf(name: string): string {
  return swarmId('node', name);
}

/**
 * The stable Swarm-style id of a network the face shows (the node's container network, `berth` by
 * default): `swarmId('network', name)`, so a network and a node of the same name never share an id.
 * Used by /networks, services' VirtualIPs and tasks' NetworksAttachments.
 */
export function networkIdOf(name: string): string {
  return swarmId('network', name);
}

/**
 * The Swarm-style id of the task a berth instance is: `swarmId('task', instance id)`, 25 base-36
 * characters as swarmkit's. Not the instance id itself (`web-1-x3k9q`): the docker CLI shows ids cut
 * to 12 characters, and a long service name would leave every replica with the same 12 (an ambiguous
 * prefix). Lookups accept both (task-routes.ts' resolveTask).
 */
export function taskIdOf(instanceId: string): string {
  return swarmId('task', instanceId);
}
