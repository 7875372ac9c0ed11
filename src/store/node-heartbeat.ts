import type { NewServiceEvent, NodeInfo, NodeRegistration } from '../model/index.js';
import type { NodeLiveness } from './node-liveness.js';
import { registeredNode } from './node-records.js';
import { stableStringify } from './deep-freeze.js';
import type { Store } from './store.js';

/** Whether storing `registration` would change nothing but the heartbeat time. */
function sameFacts(current: NodeInfo, registration: NodeRegistration): boolean {
  const { heartbeatAt: _a, version: _v, ...stored } = current;
  const { heartbeatAt: _b, ...next } = registeredNode(registration, current);
  return stableStringify(next) === stableStringify(stored);
}

/**
 * An agent's heartbeat (every few seconds) or registration: renews the node's liveness, and writes the
 * node record only when it is new, was down, or its facts changed — so that a quiet cluster's
 * heartbeats are no store writes. A node that comes back gets a `node.ready` event on every service
 * with instances there. Returns the node as stored.
 * @param nowMs epoch ms of the heartbeat
 */
export function recordHeartbeat(store: Store, liveness: NodeLiveness, registration: NodeRegistration, nowMs: number): NodeInfo {
  liveness.renew(registration.name, nowMs);
  const current = store.getNode(registration.name);
  if (current && current.ready && registration.ready && sameFacts(current, registration)) return current;
  const node = store.upsertNode({ ...registration, heartbeatAt: new Date(nowMs).toISOString() });
  if (current && !current.ready && node.ready) {
    const services = new Map<string, NewServiceEvent>();
    for (const i of store.listInstances({ node: node.name, active: true })) {
      services.set(`${i.grid}/${i.service}`, {
        grid: i.grid,
        service: i.service,
        type: 'node.ready',
        severity: 'info',
        message: `node ${node.name} sends heartbeats again; instances of it that were replaced elsewhere are stopped`,
        data: { node: node.name },
      });
    }
    if (services.size > 0) store.appendEvents([...services.values()]);
  }
  return node;
}
