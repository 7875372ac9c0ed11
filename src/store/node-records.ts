import { availableParallelism, machine, platform, totalmem } from 'node:os';
import type { NodeInfo, NodeRegistration } from '../model/index.js';

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
