import { createHash } from 'node:crypto';

/** Length of a Swarm object id (swarmkit `identity/randomid.go`: 25 base-36 characters). */
export const SWARM_ID_LENGTH = 25;

/**
 * A stable Swarm-style id: 25 characters of base 36, as swarmkit's `identity.NewID` (128 bits) — here
 * the first 128 bits of SHA-256 of `kind:key`, so the same object always has the same id. Shared by the
 * Docker face (which shows the ids) and the scheduler (which matches `node.id==…` constraints).
 */
export function swarmId(kind: string, key: string): string {
  const k = `${kind}:${key}`;
  const known = swarmIds.get(k);
  if (known !== undefined) return known;
  const digest = createHash('sha256').update(k).digest();
  const id = BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString(36).padStart(SWARM_ID_LENGTH, '0');
  // Remembered, as every list shows the same few ids (networks, nodes) again; bounded, as task ids are many.
  if (swarmIds.size >= SWARM_ID_CACHE) swarmIds.clear();
  swarmIds.set(k, id);
  return id;
}

/** swarmId's answers so far (`kind:key` → id); cleared when it reaches SWARM_ID_CACHE entries. */
const swarmIds = new Map<string, string>();
const SWARM_ID_CACHE = 4096;
