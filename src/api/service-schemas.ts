import { z } from 'zod';
import { ServiceSpecSchema } from '../model/index.js';
import { count, time, watchableList } from './schema-fields.js';

/*
 * zod mirrors of model/service.ts and its neighbours (response-schemas.ts says why): a service with its
 * status, rollout and data-plane conditions, its volumes, endpoints, spec history and events.
 */

export const UpdateStatusSchema = z.strictObject({
  state: z.enum(['updating', 'paused', 'completed', 'rollback_started', 'rollback_paused', 'rollback_completed']).describe("Swarm's UpdateStatus.State"),
  generation: count.describe('The generation this rollout moves to.'),
  requestedAt: time.describe("The deployment's requestedAt: the rollout's identity."),
  fromGeneration: count.optional().describe('The generation running when the rollout started.'),
  startedAt: time,
  completedAt: time.optional(),
  message: z.string().describe('Why, in words: which instance, which probe, its last output or exit code.'),
  failedInstances: z.array(z.string()),
  updatedInstances: count,
  totalInstances: count,
});
export const ListenerProblemSchema = z.strictObject({
  listener: z.string().describe('"TCP 127.0.0.1:30000"'),
  kind: z.enum(['clusterIP', 'externalIP', 'loadBalancerIP', 'nodePort', 'published']),
  servicePort: z.string().describe('The service port it serves: "80/TCP".'),
  error: z.string().describe('EADDRINUSE, EADDRNOTAVAIL, EACCES…, or ADDRESS_CONFLICT (another service holds it).'),
  message: z.string(),
  since: time.describe('First seen failing (since it was last open).'),
});
export const ServiceConditionSchema = z.strictObject({
  type: z.enum(['ListenersOpen']),
  status: z.enum(['True', 'False']),
  reason: z.string().describe('"Open", or the first failing listener\'s error.'),
  message: z.string(),
  lastTransitionTime: time,
  listeners: z.array(ListenerProblemSchema).optional().describe('With status False: the listeners that are not open.'),
});
export const ServiceStatusSchema = z.strictObject({
  phase: z.enum(['initialized', 'deploying', 'running', 'degraded', 'stopped', 'removing', 'failed']),
  desiredInstances: count,
  runningInstances: count,
  observedGeneration: count,
  message: z.string(),
  updatedAt: time,
  update: UpdateStatusSchema.optional().describe('The latest rollout; absent before the first deploy.'),
  degradedSince: time.optional().describe('When the service last entered degraded; kept while degraded or deploying, absent once it runs its full count.'),
  conditions: z.array(ServiceConditionSchema).optional().describe("What the node's data plane observed (ListenersOpen); absent until it has something to say."),
});
export const ServiceDeploymentSchema = z.strictObject({
  generation: count,
  spec: ServiceSpecSchema,
  requestedAt: time,
  restartGeneration: count,
  cause: z.enum(['deploy', 'rollback', 'auto-rollback']).optional().describe('Absent = deploy.'),
  rollbackTo: count.optional().describe('For a rollback: the generation whose spec this deployment restores.'),
  spreadChanged: z.literal(true).optional().describe('Its spread preferences differ from the deployment before it: the rollout evens the spread out.'),
});
export const ServiceSchema = z.strictObject({
  id: z.string(),
  grid: z.string(),
  name: z.string(),
  version: count.describe('Compare-and-set token: the store revision of the last change of spec, deployment or desired.'),
  generation: count.describe('Counts spec changes; 1 at create.'),
  createdAt: time,
  updatedAt: time,
  spec: ServiceSpecSchema,
  deployment: ServiceDeploymentSchema.nullable().describe('null until the first deploy.'),
  desired: z.enum(['running', 'stopped', 'removing']),
  deleteVolumes: z.boolean().optional().describe('Removal with the data directories (DELETE …?volumes=true); absent otherwise.'),
  status: ServiceStatusSchema,
});
export const ServiceListSchema = watchableList(ServiceSchema);
export const SlotVolumeSchema = z.strictObject({
  grid: z.string(),
  service: z.string(),
  slot: z.int().min(1),
  node: z.string().describe('The node holding it (node-local storage).'),
  path: z.string().describe('Absolute path on that node.'),
});
export const SlotVolumeListSchema = z.strictObject({ items: z.array(SlotVolumeSchema) });
/** model/endpoints.ts ServiceEndpoints, for the OpenAPI document. */
export const ServiceEndpointsSchema = z.strictObject({
  grid: z.string(),
  service: z.string(),
  type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
  clusterIP: z.string().optional(),
  headless: z.boolean(),
  externalName: z.string().optional(),
  externalIPs: z.array(z.string()),
  loadBalancerIPs: z.array(z.string()),
  ports: z.array(z.strictObject({ name: z.string(), protocol: z.enum(['TCP', 'UDP']), port: z.number().int(), nodePort: z.number().int().optional(), published: z.number().int().optional() })),
  endpoints: z.array(
    z.strictObject({ ip: z.string(), ports: z.record(z.string(), z.number().int()), ready: z.boolean(), slot: z.number().int().optional(), instance: z.string().optional() }),
  ),
  sessionAffinity: z.union([z.strictObject({ type: z.literal('None') }), z.strictObject({ type: z.literal('ClientIP'), timeoutSeconds: z.number().int() })]),
  publishNotReadyAddresses: z.boolean(),
});
export const SpecRevisionSchema = z.strictObject({
  generation: count,
  spec: ServiceSpecSchema,
  createdAt: time,
  cause: z.string().describe('"create", "update", "scale", "rollback to 3", "automatic rollback to 3"…'),
  deployedAt: time.optional().describe('When it was last deployed, if ever.'),
});
export const SpecHistorySchema = z.strictObject({
  items: z.array(SpecRevisionSchema).describe('Oldest first; at most 20 kept.'),
  generation: count,
  deployedGeneration: count.nullable(),
});
export const ServiceEventSchema = z.strictObject({
  id: count.describe('Store revision at which it was recorded.'),
  time,
  grid: z.string(),
  service: z.string(),
  type: z.string().describe('service.created, service.scaled, instance.exited, …'),
  severity: z.enum(['info', 'warning', 'error']),
  message: z.string(),
  instance: z.string().optional(),
  slot: z.int().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
