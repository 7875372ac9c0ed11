import { z } from 'zod';
import { ContainerSpecSchema, ERROR_CODES, INSTANCE_STATES, RestartPolicySchema, ServiceSpecSchema } from '../model/index.js';

/*
 * zod mirrors of the TypeScript-only model types (Service, Instance, …), used for the OpenAPI document
 * and, in the tests, to check real answers against it (strict objects: a field added to a model type
 * and not here fails the API tests). Specs reuse model's schemas: a stored spec is also a valid input.
 */

const time = z.string().describe('RFC 3339 time');
const count = z.int().min(0);

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
  phase: z.enum(['initialized', 'deploying', 'running', 'stopped', 'removing', 'failed']),
  desiredInstances: count,
  runningInstances: count,
  observedGeneration: count,
  message: z.string(),
  updatedAt: time,
  update: UpdateStatusSchema.optional().describe('The latest rollout; absent before the first deploy.'),
  conditions: z.array(ServiceConditionSchema).optional().describe("What the node's data plane observed (ListenersOpen); absent until it has something to say."),
});

export const ServiceDeploymentSchema = z.strictObject({
  generation: count,
  spec: ServiceSpecSchema,
  requestedAt: time,
  restartGeneration: count,
  cause: z.enum(['deploy', 'rollback', 'auto-rollback']).optional().describe('Absent = deploy.'),
  rollbackTo: count.optional().describe('For a rollback: the generation whose spec this deployment restores.'),
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

export const SlotVolumeSchema = z.strictObject({
  grid: z.string(),
  service: z.string(),
  slot: z.int().min(1),
  node: z.string().describe('The node holding it (node-local storage).'),
  path: z.string().describe('Absolute path on that node.'),
});
export const SlotVolumeListSchema = z.strictObject({ items: z.array(SlotVolumeSchema) });

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

export const NodeInfoSchema = z.strictObject({
  name: z.string(),
  address: z.string(),
  drivers: z.array(z.string()),
  unavailableDrivers: z.record(z.string(), z.string()).optional().describe('driver → why it cannot run on this node'),
  containerNetwork: z.strictObject({ name: z.string(), subnet: z.string(), gateway: z.string(), dns: z.string().optional() }).optional(),
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

export const LogLineSchema = z.strictObject({
  time: z.string().describe('RFC 3339 with nanoseconds'),
  stream: z.enum(['stdout', 'stderr']),
  text: z.string(),
  instance: z.string(),
  slot: z.int(),
  container: z.string(),
});

export const InstanceStatsSchema = z.strictObject({
  instance: z.string(),
  slot: z.int(),
  time,
  cpuPercent: z.number().describe('Percent of one core (200 = two cores)'),
  memoryBytes: count,
  processes: count,
});

const change = <K extends string, O extends z.ZodType>(kind: K, ops: readonly [string, ...string[]], object: O) =>
  z.strictObject({ revision: count, kind: z.literal(kind), op: z.enum(ops), key: z.string(), object });

export const WatchEventSchema = z.discriminatedUnion('kind', [
  change('service', ['put', 'delete'], ServiceSchema),
  change('instance', ['put', 'delete'], InstanceSchema),
  change('node', ['put', 'delete'], NodeInfoSchema),
  change('event', ['put'], ServiceEventSchema),
]);

export const ErrorSchema = z.strictObject({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).describe('SPEC_INVALID: { causes: [{ field, type, value?, detail?, message }] }; VERSION_CONFLICT: { expectedVersion, currentVersion }'),
});

export const VersionInfoSchema = z.strictObject({
  version: z.string(),
  apiVersion: z.literal('v1'),
  node: z.string(),
  dns: z.string().optional(),
  dockerApi: z.array(z.string()).optional().describe('where the Docker Engine API face listens, as DOCKER_HOST takes it (docs/docker-api.md)'),
  drivers: z.array(z.string()).optional().describe('drivers that run containers on this node'),
  unavailableDrivers: z.record(z.string(), z.string()).optional().describe('driver → why it cannot run here'),
  controlPlane: z
    .strictObject({ role: z.enum(['leader', 'follower', 'electing']), leader: z.string().optional() })
    .optional()
    .describe('several servers on etcd: this server\'s role and the leader\'s API URL (docs/control-plane.md)'),
});

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

const ProbeEvidenceSchema = z.strictObject({
  kind: z.enum(['readiness', 'liveness', 'startup']),
  container: z.string(),
  target: z.string(),
  lastOutput: z.string(),
  consecutiveFailures: count,
});

export const ExplanationSchema = z.strictObject({
  verdict: z.enum(['removing', 'not_deployed', 'stopped', 'paused', 'rolled_back', 'failed', 'degraded', 'converging', 'healthy']),
  summary: z.string().describe('The verdict in one line, root cause first.'),
  reasons: z.array(
    z.strictObject({
      kind: z.enum(['rollout', 'probe_failing', 'crashed', 'rejected', 'starting', 'draining', 'event', 'intent', 'listener', 'unrunnable', 'unschedulable']),
      message: z.string(),
      instance: z.string().optional(),
      slot: z.int().optional(),
      generation: count.optional(),
      evidence: z.strictObject({
        state: z.enum(INSTANCE_STATES).optional(),
        message: z.string().optional(),
        probe: ProbeEvidenceSchema.optional(),
        exitCode: z.int().optional(),
        signal: z.string().optional(),
        restarts: count.optional(),
        connections: count.optional(),
        lastLogLines: z.array(z.string()).optional().describe('Only in GET …/why: the last 5 lines the container wrote.'),
        event: z.strictObject({ id: count, time, type: z.string(), severity: z.enum(['info', 'warning', 'error']), message: z.string() }).optional(),
        listener: ListenerProblemSchema.optional(),
      }),
    }),
  ),
  suggestions: z.array(z.string()),
  deployedGeneration: count.nullable(),
  instances: z.array(
    z.strictObject({
      slot: z.int().min(1),
      id: z.string(),
      generation: count,
      state: z.enum(INSTANCE_STATES),
      desiredState: z.enum(['running', 'shutdown']),
      health: z.enum(['healthy', 'unhealthy', 'starting', '']),
      ready: z.boolean(),
    }),
  ),
});

/** GET of one service: the Service with its explanation (computed on read; no log lines). */
export const ServiceWithExplanationSchema = ServiceSchema.extend({ explanation: ExplanationSchema });

/** A service event in a log stream (GET …/logs?events=true). */
export const EventLineSchema = z.strictObject({ kind: z.literal('event'), time, event: ServiceEventSchema });
export const UnreachableNodeSchema = z.strictObject({
  node: z.string(),
  reason: z.string().describe('why its agent could not be read: connect ECONNREFUSED 10.0.0.2:10250, no telemetry port registered, …'),
  instances: z.array(z.string()).describe('the ids of its instances that were asked for'),
});
/** `{"warning": …}`: a node whose instances' lines are missing (docs/node-telemetry.md). */
export const StreamWarningSchema = z.strictObject({
  warning: z.strictObject({ code: z.literal('LOGS_UNAVAILABLE'), message: z.string(), details: UnreachableNodeSchema }),
});
export const TimelineLineSchema = z.union([LogLineSchema, EventLineSchema, StreamWarningSchema]);

const list = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item) });
/**
 * A list the watch can continue (Kubernetes' list resourceVersion): `revision` is the store revision
 * the list was read at, in the same synchronous step; `GET /v1/watch?fromRevision=<revision + 1>`
 * then delivers exactly the changes after it.
 */
const watchableList = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), revision: z.number().int().nonnegative().describe('The store revision the list was read at: watch from revision + 1 to follow it without a gap.') });
export const ServiceListSchema = watchableList(ServiceSchema);
export const InstanceListSchema = watchableList(InstanceSchema);
export const NodeListSchema = list(NodeInfoSchema);
export const NodeDetailSchema = NodeInfoSchema.extend({
  instances: z.array(z.strictObject({ id: z.string(), grid: z.string(), service: z.string(), slot: z.int(), desiredState: z.string(), state: z.string() })).describe('instances that have not ended on the node'),
});
export const InstanceStatsListSchema = z.strictObject({
  items: z.array(InstanceStatsSchema),
  unreachable: z.array(UnreachableNodeSchema).optional().describe('nodes whose agents did not answer: their instances are not in items'),
});
const heartbeatPeriodMs = count.describe('how often the agent should send heartbeats (a third of the server\'s node grace)');
const telemetryTokenField = z.string().optional().describe("the token servers present to the node's telemetry listener (docs/node-telemetry.md)");
export const JoinedNodeSchema = z.strictObject({ node: NodeInfoSchema, token: z.string().describe('the node credential: the agent sends it from now on (shown only here)'), heartbeatPeriodMs, telemetryToken: telemetryTokenField });
export const ClusterSnapshotSchema = z.strictObject({
  revision: count.describe('the store revision it was read at: follow GET /v1/watch?fromRevision=revision+1'),
  services: z.array(ServiceSchema),
  instances: z.array(InstanceSchema).describe('instances that have not ended'),
  nodes: z.array(NodeInfoSchema),
});
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
export const HeartbeatAnswerSchema = z.strictObject({ node: NodeInfoSchema, heartbeatPeriodMs, telemetryToken: telemetryTokenField });
export const InstanceCredentialsSchema = z.strictObject({
  apiToken: z.string().describe('BERTH_API_TOKEN of its containers'),
  secrets: z.record(z.string(), z.string()).describe('name/key → value, for the secrets its env refers to'),
});
export const DataPlaneBarrierAnswerSchema = z.strictObject({ behind: z.array(z.string()).describe('nodes whose data plane had not applied the revision when the wait ended ([]: none)') });
export const StatusReportAnswerSchema = z.strictObject({ accepted: count, events: count, ignored: count.describe('statuses and events of instances not on this node (dropped)') });

const role = z.enum(['cluster-admin', 'admin', 'operator', 'viewer', 'node']);
export const GrantSchema = z.strictObject({ role, grid: z.string().optional() });
export const IdentitySchema = z.strictObject({
  kind: z.enum(['user', 'service', 'node']),
  subject: z.string(),
  grants: z.array(GrantSchema),
  service: z.strictObject({ grid: z.string(), name: z.string() }).optional(),
  tokenId: z.string().optional(),
  node: z.string().optional().describe('the node a node identity acts for'),
});
export const GridSchema = z.strictObject({ name: z.string(), createdAt: time, labels: z.record(z.string(), z.string()) });
export const GridListSchema = list(GridSchema);
export const TokenInfoSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  role,
  grid: z.string().optional(),
  createdAt: time,
  expiresAt: time.optional(),
  createdBy: z.string(),
});
export const TokenListSchema = list(TokenInfoSchema);
export const CreatedTokenSchema = TokenInfoSchema.extend({ token: z.string().describe('The bearer token; shown only in this answer.') });
export const SecretInfoSchema = z.strictObject({ grid: z.string(), name: z.string(), keys: z.array(z.string()), createdAt: time, updatedAt: time });
export const SecretListSchema = list(SecretInfoSchema);
