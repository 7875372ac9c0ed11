import type { NodeInfo, NodeRegistration } from '../model/index.js';
import type { ChangeLog } from './change-log.js';
import type { FrozenJsonCache } from './deep-freeze.js';
import { changedNode, registeredNode, removableNode, withNodeDefaults } from './node-records.js';
import type { JsonRow, Statements } from './sqlite-statements.js';
import type { NodeChange } from './store.js';

/**
 * The `nodes` table of the SQLite store: reads (frozen, with the defaults of records older than issue
 * 13, node-records.ts) and the writes of a node record — the agent's registration, the API's or node
 * controller's change, and `berth node rm`. Each write gives the record a new revision, its `version`,
 * and records it in the ChangeLog; the writes run inside the store's write transaction (SqliteStore.write).
 */
export class NodeTable {
  constructor(
    private readonly stmt: Statements,
    private readonly log: ChangeLog,
    /** Unchanged rows read again come back as the same frozen object. */
    private readonly frozen: FrozenJsonCache,
  ) {}

  /** Every node, by name. */
  list(): NodeInfo[] {
    return (this.stmt.listNodes.all() as JsonRow[]).map((r) => withNodeDefaults(this.frozen.parse<NodeInfo>(r.json)));
  }

  /** One row: node credentials are checked with it on every heartbeat and report. */
  get(name: string): NodeInfo | undefined {
    const row = this.stmt.getNode.get(name) as JsonRow | undefined;
    return row ? withNodeDefaults(this.frozen.parse<NodeInfo>(row.json)) : undefined;
  }

  /** Registers a node or records its heartbeat, keeping the API's fields (`registeredNode`). */
  upsert(node: NodeRegistration): NodeInfo {
    return this.put(registeredNode(node, this.get(node.name)));
  }

  /** @throws NodeNotFoundError, VersionConflictError when `ifVersion` is not the current version */
  update(name: string, change: NodeChange, ifVersion: number | undefined): NodeInfo {
    return this.put(changedNode(this.get(name), name, change, ifVersion));
  }

  /**
   * Forgets a node that is down, or any with `force`; returns its last record.
   * @throws NodeNotFoundError, NodeNotDownError
   */
  remove(name: string, force: boolean): NodeInfo {
    const current = removableNode(this.get(name), name, force);
    const revision = this.log.next();
    this.stmt.deleteNode.run(name);
    this.log.record('node', 'delete', name, JSON.stringify(current), revision);
    return current;
  }

  private put(node: Omit<NodeInfo, 'version'>): NodeInfo {
    const revision = this.log.next();
    const json = JSON.stringify({ ...node, version: revision } satisfies NodeInfo);
    this.stmt.putNode.run(node.name, json, revision);
    return this.log.record('node', 'put', node.name, json, revision) as NodeInfo;
  }
}
