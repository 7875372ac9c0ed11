import { z } from 'zod';
import { count, list, time } from './schema-fields.js';
import { InstanceSchema } from './instance-schemas.js';
import { ServiceSchema } from './service-schemas.js';

/*
 * zod mirrors of model/node.ts and the node API's answers (response-schemas.ts says why): nodes, what an
 * agent gets when it joins, heartbeats and reports, and what-if plans of a change of the nodes.
 */

export const NodeInfoSchema = z.strictObject({
  name: z.string(),
  address: z.string(),
  drivers: z.array(z.string()),
  unavailableDrivers: z.record(z.string(), z.string()).optional().describe('driver → why it cannot run on this node'),
  containerNetwork: z.strictObject({ name: z.string(), subnet: z.string(), gateway: z.string(), dns: z.string().optional(), problems: z.array(z.string()).optional().describe('what containers on this node cannot do, one sentence each with its fix') }).optional(),
  telemetryPort: z.int().optional().describe("the agent's telemetry listener at `address`, where servers read the node's logs and stats (docs/node-telemetry.md)"),
  telemetryFingerprint: z.string().optional().describe("SHA-256 of the telemetry listener's certificate (HTTPS, pinned by the servers); absent: plain HTTP"),
  labels: z.record(z.string(), z.string()).describe('node.labels.<key> of placement constraints'),
  availability: z.enum(['active', 'pause', 'drain']).describe('active takes new instances; pause takes none; drain moves its instances elsewhere'),
  os: z.string(),
  arch: z.string(),
  capacity: z.strictObject({ cpus: z.number(), memoryBytes: z.number().describe('bytes') }).describe('what instances may reserve'),
  ready: z.boolean(),
  heartbeatAt: time,
  version: count,
});
export const NodeListSchema = list(NodeInfoSchema);
export const NodeDetailSchema = NodeInfoSchema.extend({
  instances: z.array(z.strictObject({ id: z.string(), grid: z.string(), service: z.string(), slot: z.int(), desiredState: z.string(), state: z.string() })).describe('instances that have not ended on the node'),
});
const heartbeatPeriodMs = count.describe('how often the agent should send heartbeats (a third of the server\'s node grace)');
const telemetryTokenField = z.string().optional().describe("the token servers present to the node's telemetry listener (docs/node-telemetry.md)");
export const JoinedNodeSchema = z.strictObject({ node: NodeInfoSchema, token: z.string().describe('the node credential: the agent sends it from now on (shown only here)'), heartbeatPeriodMs, telemetryToken: telemetryTokenField });
export const HeartbeatAnswerSchema = z.strictObject({ node: NodeInfoSchema, heartbeatPeriodMs, telemetryToken: telemetryTokenField });
export const ClusterSnapshotSchema = z.strictObject({
  revision: count.describe('the store revision it was read at: follow GET /v1/watch?fromRevision=revision+1'),
  services: z.array(ServiceSchema),
  instances: z.array(InstanceSchema).describe('instances that have not ended'),
  nodes: z.array(NodeInfoSchema),
});
export const InstanceCredentialsSchema = z.strictObject({
  apiToken: z.string().describe('BERTH_API_TOKEN of its containers'),
  secrets: z.record(z.string(), z.string()).describe('name/key → value, for the secrets its env refers to'),
});
export const DataPlaneBarrierAnswerSchema = z.strictObject({ behind: z.array(z.string()).describe('nodes whose data plane had not applied the revision when the wait ended ([]: none)') });
export const StatusReportAnswerSchema = z.strictObject({ accepted: count, events: count, ignored: count.describe('statuses and events of instances not on this node (dropped)') });
const whatIfMove = z.strictObject({ grid: z.string(), service: z.string(), slot: z.int(), from: z.string().nullable(), to: z.string().nullable(), reason: z.string() });
const nodeRejection = z.strictObject({ node: z.string(), filter: z.string(), message: z.string() });
export const WhatIfPlanSchema = z.strictObject({
  change: z.record(z.string(), z.unknown()).describe('the change asked about: { kind: fail-node | drain | add-node, … }'),
  nodes: z.array(z.strictObject({ name: z.string(), ready: z.boolean(), availability: z.string() })),
  moves: z.array(whatIfMove).describe('slots whose instance would run on another node'),
  starts: z.array(whatIfMove).describe('slots that would get an instance where none ran'),
  stops: z.array(whatIfMove).describe('slots whose instance would stop with no replacement'),
  pending: z.array(z.strictObject({ grid: z.string(), service: z.string(), slot: z.int(), message: z.string(), nodes: z.array(nodeRejection) })).describe('slots that would fit no node, with every node\'s reason'),
  waiting: z.array(z.strictObject({ grid: z.string(), service: z.string(), slot: z.int(), node: z.string(), reason: z.string() })).describe('stateful slots that would wait for their node'),
  services: z.array(
    z.strictObject({
      grid: z.string(),
      service: z.string(),
      desired: count,
      readyBefore: count,
      readyDuring: count,
      readyAfter: count,
      minHealth: z.number().optional(),
      belowReplicas: z.boolean(),
      belowMinHealth: z.boolean(),
    }),
  ).describe('services whose ready instances would drop'),
  rounds: count,
  settled: z.boolean(),
});
