import { createHash } from 'node:crypto';

/** Length of a Swarm object id: swarmkit's `identity.NewID()` gives 25 base-36 characters. */
export const SWARM_ID_LENGTH = 25;

/**
 * The stable Swarm-style node id the Docker face shows for a berth node: the first 25 hex characters
 * of sha256(name). berth names its nodes; Swarm gives them random 25-character ids
 * (swarmkit `identity/randomid.go`). Hashing the name keeps one id per node across restarts and
 * across the routes that show it (nodes, tasks' NodeID, log details `com.docker.swarm.node.id`), and
 * lets `node` filters accept either form. Pure; e.g. `nodeIdOf('n1')` is always the same 25 chars.
 */
export function nodeIdOf(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, SWARM_ID_LENGTH);
}

/**
 * The stable Swarm-style id of a network the face shows (the berth bridge network, or the loopback
 * instance range of process instances): the first 25 hex characters of sha256(`network/<name>`), so
 * a network and a node of the same name never share an id. Used by tasks' NetworksAttachments and
 * by the face's /networks.
 */
export function networkIdOf(name: string): string {
  return createHash('sha256').update(`network/${name}`).digest('hex').slice(0, SWARM_ID_LENGTH);
}
