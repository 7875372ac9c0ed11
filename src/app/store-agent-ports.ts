import type { AgentPorts } from '../agent/index.js';
import type { Store } from '../store/index.js';

/** The agent's ports on a local store (one machine). A remote agent will implement them over HTTP. */
export function storeAgentPorts(store: Store): AgentPorts {
  return {
    listInstances: (node) => store.listInstances({ node }),
    watchInstances: (node, listener) =>
      store.watch(store.revision(), (e) => {
        if (e.kind === 'instance' && e.object.node === node) listener(e.object, e.op);
      }),
    reportStatuses: (updates, events) => store.setInstanceStatuses(updates, events),
    watchRemovedServices: (listener) =>
      store.watch(store.revision(), (e) => {
        if (e.kind === 'service' && e.op === 'delete') listener({ grid: e.object.grid, name: e.object.name, deleteVolumes: e.object.deleteVolumes === true });
      }),
  };
}
