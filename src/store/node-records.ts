import { availableParallelism, machine, platform, totalmem } from 'node:os';
import type { NodeInfo, NodeRegistration } from '../model/index.js';
import { NodeNotDownError, NodeNotFoundError, VersionConflictError } from '../model/index.js';
import type { NodeChange } from './store.js';

/*
 * The two writers of a node record (model/node.ts): the agent's registration and the API's change.
 * Pure merges, shared by every store backend.
 */

/** The machine this process runs on, for the facts a registration leaves out. */
function machineFacts(): Pick<NodeInfo, 'os' | 'arch' | 'capacity'> {
  return { os: platform(), arch: machine(), capacity: { cpus: availableParallelism(), memoryBytes: totalmem() } };
}

/**
 * A record written before nodes had labels, availability, platform and capacity (store schema before
 * issue 13) reads as an active node of this machine with no labels.
 */
export function withNodeDefaults(node: NodeInfo): NodeInfo {
  if (node.labels !== undefined && node.availability !== undefined && node.os !== undefined && node.arch !== undefined && node.capacity !== undefined) return node;
  const facts = machineFacts();
  return Object.freeze({ ...node, labels: node.labels ?? {}, availability: node.availability ?? 'active', os: node.os ?? facts.os, arch: node.arch ?? facts.arch, capacity: node.capacity ?? facts.capacity });
}

/**
 * What a registration (or heartbeat) stores: the agent's facts, with the API's fields of the existing
 * record kept — `availability`, and `labels` (the agent's labels count only when the node is new, as
 * kubelet's `--node-labels`).
 */
export function registeredNode(registration: NodeRegistration, existing: NodeInfo | undefined): Omit<NodeInfo, 'version'> {
  const facts = machineFacts();
  return {
    ...registration,
    os: registration.os ?? existing?.os ?? facts.os,
    arch: registration.arch ?? existing?.arch ?? facts.arch,
    capacity: registration.capacity ?? existing?.capacity ?? facts.capacity,
    labels: existing ? existing.labels : { ...(registration.labels ?? {}) },
    availability: existing?.availability ?? 'active',
    ...(registration.joinedAt ?? existing?.joinedAt ? { joinedAt: registration.joinedAt ?? existing?.joinedAt } : {}),
  };
}

/**
 * The record after an API or node-controller change (`berth node update`, a node marked down).
 * @throws NodeNotFoundError (404), VersionConflictError (409) when `ifVersion` is not the current version
 */
export function changedNode(current: NodeInfo | undefined, name: string, change: NodeChange, ifVersion: number | undefined): Omit<NodeInfo, 'version'> {
  if (!current) throw new NodeNotFoundError(name);
  if (ifVersion !== undefined && ifVersion !== current.version) throw new VersionConflictError(`node "${name}"`, ifVersion, current.version);
  const { version: _, ...rest } = current;
  return {
    ...rest,
    ...(change.availability ? { availability: change.availability } : {}),
    ...(change.labels ? { labels: { ...change.labels } } : {}),
    ...(change.ready !== undefined ? { ready: change.ready } : {}),
    ...(change.heartbeatAt !== undefined ? { heartbeatAt: change.heartbeatAt } : {}),
  };
}

/**
 * The node `berth node rm` may forget: one that is down, or any with `force`.
 * @throws NodeNotFoundError (404), NodeNotDownError (409)
 */
export function removableNode(current: NodeInfo | undefined, name: string, force: boolean): NodeInfo {
  if (!current) throw new NodeNotFoundError(name);
  if (current.ready && !force) throw new NodeNotDownError(name);
  return current;
}
