import { z } from 'zod';
import { ContainerSpecSchema, INSTANCE_STATES, RestartPolicySchema } from '../model/index.js';
import { count, time, watchableList } from './schema-fields.js';

/*
 * zod mirrors of model/instance.ts (response-schemas.ts says why): an instance, its spec, and the status
 * its node reports (containers, health and probes, drain, image pull).
 */

export const ContainerStatusSchema = z.strictObject({
  name: z.string(),
  state: z.enum(['starting', 'running', 'exited']),
  pid: z.int().optional(),
  exitCode: z.int().optional(),
  signal: z.string().optional(),
  startedAt: time.optional(),
  finishedAt: time.optional(),
});
export const ProbeStatusSchema = z.strictObject({
  kind: z.enum(['readiness', 'liveness', 'startup']),
  container: z.string(),
  target: z.string().describe('"GET http://127.10.0.3:8080/health", "TCP 127.10.0.3:5432", "exec pg_isready"'),
  result: z.enum(['unknown', 'success', 'failure']),
  consecutiveSuccesses: count,
  consecutiveFailures: count,
  lastOutput: z.string().describe('What the last probe saw (at most 1 KiB).'),
  lastCheckedAt: time.optional(),
});
export const InstanceHealthSchema = z.strictObject({
  started: z.boolean(),
  ready: z.boolean(),
  live: z.boolean(),
  readySince: time.optional(),
  probes: z.array(ProbeStatusSchema),
});
export const InstanceDrainSchema = z.strictObject({
  since: time,
  connections: count.describe('Open proxied connections when last reported.'),
  endedAt: time.optional(),
  timedOut: z.boolean().optional(),
});
export const InstanceStatusSchema = z.strictObject({
  state: z.enum(INSTANCE_STATES),
  timestamp: time,
  message: z.string(),
  startedAt: time.optional(),
  finishedAt: time.optional(),
  exitCode: z.int().optional(),
  signal: z.string().optional(),
  handles: z.array(z.unknown()).optional(),
  containers: z.array(ContainerStatusSchema).optional(),
  health: InstanceHealthSchema.optional(),
  drain: InstanceDrainSchema.optional(),
  pull: z
    .strictObject({
      image: z.string(),
      layers: z.array(z.strictObject({ id: z.string(), status: z.string(), current: z.number().optional(), total: z.number().optional() })),
    })
    .optional()
    .describe('while the node pulls an image for the instance: progress per layer (bytes)'),
});
export const InstanceSpecSchema = z.strictObject({
  containers: z.array(ContainerSpecSchema),
  address: z.string(),
  dataDir: z.string().optional(),
  restartPolicy: RestartPolicySchema,
  env: z.record(z.string(), z.string()),
  drainTimeout: z.string().optional(),
  hostPorts: z
    .array(z.strictObject({ containerPort: z.int(), protocol: z.enum(['TCP', 'UDP']), hostPort: z.int() }))
    .optional()
    .describe("node-published ports: where other nodes reach each container port on the instance's node"),
});
export const InstanceSchema = z.strictObject({
  id: z.string(),
  grid: z.string(),
  service: z.string(),
  serviceId: z.string(),
  slot: z.int().min(1),
  node: z.string(),
  generation: count,
  restartGeneration: count,
  restarts: count,
  version: count,
  createdAt: time,
  spec: InstanceSpecSchema,
  desiredState: z.enum(['running', 'shutdown']),
  desiredReason: z.string().optional(),
  status: InstanceStatusSchema,
});
export const InstanceListSchema = watchableList(InstanceSchema);
