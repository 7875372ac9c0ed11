import { z } from 'zod';
import { ContainerSpecSchema, RestartPolicySchema, ServicePortSchema, ServiceSpecSchema, UpdateConfigSchema } from '../model/index.js';
import { routeAccess } from './access-control.js';
import { ERROR_STATUS } from './error-status.js';
import {
  CreateServiceBody,
  DeployBody,
  DryRunQuery,
  EventsQuery,
  InstancesQuery,
  ListServicesQuery,
  LogsQuery,
  RemoveServiceQuery,
  RollbackBody,
  ScaleBody,
  UpdateServiceBody,
  VersionBody,
  SetEndpointsBody,
  EndpointsQuery,
  VolumesQuery,
  WatchQuery,
  CreateGridBody,
  CreateTokenBody,
  ListTokensQuery,
  CreateSecretBody,
  UpdateSecretBody,
  UpdateNodeBody,
  JoinNodeBody,
  PlanBody,
  StatusReportBody,
  DataPlaneReportBody,
  DataPlaneBarrierBody,
  NodeHeartbeatBody,
  RemoveNodeQuery,
} from './request-schemas.js';
import * as responses from './response-schemas.js';

/*
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests (model's
 * ServiceSpecSchema; api's request-schemas) and from zod mirrors of the response types. OPERATIONS is
 * the route table of docs/api.md; a test checks it against the routes fastify actually serves.
 */

type Answer = { readonly status: number; readonly schema: string; readonly ndjson?: boolean };

export interface OperationDoc {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path template (`{grid}`), the fastify route with `:grid`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly query?: z.ZodObject;
  readonly body?: string;
  readonly answer: Answer;
}

const S = '/v1/grids/{grid}/services';
const ONE = `${S}/{name}`;

export const OPERATIONS: readonly OperationDoc[] = [
  { method: 'get', path: '/v1/version', operationId: 'getVersion', summary: 'Server version, API version and node', answer: { status: 200, schema: 'VersionInfo' } },
  { method: 'get', path: '/v1/openapi.json', operationId: 'getOpenApi', summary: 'This document', answer: { status: 200, schema: 'OpenApiDocument' } },
  { method: 'get', path: '/v1/whoami', operationId: 'whoami', summary: 'Who the bearer token is: its kind, subject and roles', answer: { status: 200, schema: 'Identity' } },
  { method: 'get', path: '/v1/grids', operationId: 'listGrids', summary: 'The grids the caller holds a role in (all for a cluster-admin)', answer: { status: 200, schema: 'GridList' } },
  { method: 'post', path: '/v1/grids', operationId: 'createGrid', summary: 'Create a grid (cluster-admin)', body: 'CreateGridRequest', answer: { status: 201, schema: 'Grid' } },
  { method: 'get', path: '/v1/grids/{grid}', operationId: 'getGrid', summary: 'One grid', answer: { status: 200, schema: 'Grid' } },
  { method: 'delete', path: '/v1/grids/{grid}', operationId: 'removeGrid', summary: 'Remove an empty grid and its tokens (cluster-admin; never default)', answer: { status: 204, schema: 'Empty' } },
  { method: 'get', path: '/v1/tokens', operationId: 'listTokens', summary: 'Tokens the caller may manage (of one grid with ?grid=); never their secrets', query: ListTokensQuery, answer: { status: 200, schema: 'TokenList' } },
  { method: 'post', path: '/v1/tokens', operationId: 'createToken', summary: 'Create a token with a role the caller holds; the answer is the only place its secret appears', body: 'CreateTokenRequest', answer: { status: 201, schema: 'CreatedToken' } },
  { method: 'delete', path: '/v1/tokens/{id}', operationId: 'revokeToken', summary: 'Revoke a token: it stops working at once', answer: { status: 204, schema: 'Empty' } },
  { method: 'get', path: '/v1/grids/{grid}/secrets', operationId: 'listSecrets', summary: 'Secrets of a grid: names and keys, never values', answer: { status: 200, schema: 'SecretList' } },
  { method: 'post', path: '/v1/grids/{grid}/secrets', operationId: 'createSecret', summary: 'Create a secret (its values are never returned)', body: 'CreateSecretRequest', answer: { status: 201, schema: 'SecretInfo' } },
  { method: 'get', path: '/v1/grids/{grid}/secrets/{secret}', operationId: 'getSecret', summary: 'A secret\'s keys and times (never values)', answer: { status: 200, schema: 'SecretInfo' } },
  { method: 'put', path: '/v1/grids/{grid}/secrets/{secret}', operationId: 'updateSecret', summary: 'Replace a secret\'s data, or merge keys into it; instances see it at their next start (berth service restart)', body: 'UpdateSecretRequest', answer: { status: 200, schema: 'SecretInfo' } },
  { method: 'delete', path: '/v1/grids/{grid}/secrets/{secret}', operationId: 'removeSecret', summary: 'Remove a secret no spec refers to', answer: { status: 204, schema: 'Empty' } },
  { method: 'get', path: '/v1/nodes', operationId: 'listNodes', summary: 'Nodes and their readiness', answer: { status: 200, schema: 'NodeList' } },
  { method: 'get', path: '/v1/nodes/{node}', operationId: 'getNode', summary: 'One node and the instances on it', answer: { status: 200, schema: 'NodeDetail' } },
  { method: 'patch', path: '/v1/nodes/{node}', operationId: 'updateNode', summary: 'Set a node\'s availability (active, pause, drain) and labels', body: 'UpdateNodeRequest', answer: { status: 200, schema: 'NodeInfo' } },
  { method: 'post', path: '/v1/nodes/join', operationId: 'joinNode', summary: 'Join a machine as a node (a join token: role node); answers the node\'s own credential', body: 'JoinNodeRequest', answer: { status: 201, schema: 'JoinedNode' } },
  { method: 'post', path: '/v1/plan', operationId: 'plan', summary: 'What if a node failed, were drained, or a node joined: the moves, pending slots and services below their replicas or minHealth; nothing is changed', body: 'PlanRequest', answer: { status: 200, schema: 'WhatIfPlan' } },
  { method: 'get', path: '/v1/snapshot', operationId: 'clusterSnapshot', summary: 'Every service, live instance and node at one store revision (cluster-read: a node\'s data plane lists, then watches)', answer: { status: 200, schema: 'ClusterSnapshot' } },
  { method: 'put', path: '/v1/nodes/{node}/heartbeat', operationId: 'nodeHeartbeat', summary: 'An agent\'s heartbeat with its node\'s facts (node credential of that node)', body: 'NodeHeartbeatRequest', answer: { status: 200, schema: 'HeartbeatAnswer' } },
  { method: 'get', path: '/v1/nodes/{node}/instances', operationId: 'listNodeInstances', summary: 'Every instance assigned to the node, ended ones too, with the store revision (node credential)', answer: { status: 200, schema: 'InstanceList' } },
  { method: 'get', path: '/v1/nodes/{node}/instances/{instance}/credentials', operationId: 'instanceCredentials', summary: 'The API token and secret values an instance of the node needs to start (node credential)', answer: { status: 200, schema: 'InstanceCredentials' } },
  { method: 'post', path: '/v1/nodes/{node}/statuses', operationId: 'reportStatuses', summary: 'Observed statuses and instance events of the node\'s instances (node credential; others are dropped)', body: 'StatusReport', answer: { status: 200, schema: 'StatusReportAnswer' } },
  { method: 'put', path: '/v1/nodes/{node}/data-plane', operationId: 'reportDataPlane', summary: 'The store revision the node\'s DNS and proxy applied (node credential; the drain barrier across nodes)', body: 'DataPlaneReport', answer: { status: 204, schema: 'Empty' } },
  { method: 'post', path: '/v1/nodes/{node}/data-plane/barrier', operationId: 'dataPlaneBarrier', summary: 'Wait until every other node\'s data plane applied a revision; answers the nodes still behind (node credential)', body: 'DataPlaneBarrier', answer: { status: 200, schema: 'DataPlaneBarrierAnswer' } },
  { method: 'delete', path: '/v1/nodes/{node}', operationId: 'removeNode', summary: 'Forget a node that is down (or any with force)', query: RemoveNodeQuery, answer: { status: 204, schema: 'Empty' } },
  { method: 'get', path: S, operationId: 'listServices', summary: 'Services of a grid, sorted by name', query: ListServicesQuery, answer: { status: 200, schema: 'ServiceList' } },
  { method: 'post', path: S, operationId: 'createService', summary: 'Create a service (deploys only with deploy: true); dryRun=All answers what would be stored and stores nothing', query: DryRunQuery, body: 'CreateServiceRequest', answer: { status: 201, schema: 'Service' } },
  { method: 'get', path: ONE, operationId: 'getService', summary: 'One service, with its explanation (computed on read; GET …/why adds log lines)', answer: { status: 200, schema: 'ServiceWithExplanation' } },
  { method: 'put', path: ONE, operationId: 'updateService', summary: 'Replace the spec (spec.name must equal {name}); deploys only with deploy: true; dryRun=All stores nothing', query: DryRunQuery, body: 'UpdateServiceRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'delete', path: ONE, operationId: 'removeService', summary: 'Ask for removal: desired becomes removing; GET is 404 once the instances are gone', query: RemoveServiceQuery, answer: { status: 202, schema: 'Service' } },
  { method: 'post', path: `${ONE}/deploy`, operationId: 'deployService', summary: 'Deploy the current spec; force also replaces every instance; dryRun=All stores nothing', query: DryRunQuery, body: 'DeployRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'post', path: `${ONE}/rollback`, operationId: 'rollbackService', summary: 'Deploy the spec of an earlier generation (to; default the one deployed before) as a new generation', body: 'RollbackRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'get', path: `${ONE}/history`, operationId: 'serviceHistory', summary: 'The versions of the spec, oldest first, and which generation is deployed', answer: { status: 200, schema: 'SpecHistory' } },
  { method: 'get', path: `${ONE}/why`, operationId: 'explainService', summary: 'Why the service is (not) healthy, converged or paused: verdict, reasons with evidence (probe output, exit codes, last log lines), suggestions', answer: { status: 200, schema: 'ServiceExplanation' } },
  { method: 'post', path: `${ONE}/scale`, operationId: 'scaleService', summary: 'Set the replicas and deploy (replicated services only)', body: 'ScaleRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'post', path: `${ONE}/start`, operationId: 'startService', summary: 'Desired running', body: 'VersionRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'post', path: `${ONE}/stop`, operationId: 'stopService', summary: 'Desired stopped: every instance is stopped', body: 'VersionRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'post', path: `${ONE}/restart`, operationId: 'restartService', summary: 'Replace every instance (needs a deployment)', body: 'VersionRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'get', path: `${ONE}/instances`, operationId: 'listInstances', summary: 'Instances by slot, newest first within a slot', query: InstancesQuery, answer: { status: 200, schema: 'InstanceList' } },
  { method: 'delete', path: `${ONE}/instances/{instance}`, operationId: 'removeInstance', summary: 'Stop one instance (a slot number or an instance id); the controller puts a new one in its slot', answer: { status: 202, schema: 'Instance' } },
  { method: 'get', path: `${ONE}/logs`, operationId: 'serviceLogs', summary: 'Log lines in time order (NDJSON; follow keeps streaming; events=true puts the service events in between)', query: LogsQuery, answer: { status: 200, schema: 'TimelineLine', ndjson: true } },
  { method: 'get', path: `${ONE}/stats`, operationId: 'serviceStats', summary: 'One sample per running instance', answer: { status: 200, schema: 'InstanceStatsList' } },
  { method: 'get', path: `${ONE}/events`, operationId: 'serviceEvents', summary: 'Event history (NDJSON; follow keeps streaming)', query: EventsQuery, answer: { status: 200, schema: 'ServiceEvent', ndjson: true } },
  { method: 'get', path: `${ONE}/endpoints`, operationId: 'serviceEndpoints', summary: 'The endpoints the data plane serves: VIP, ports, external addresses, ready and not-ready endpoints; follow=true streams them (NDJSON) as they change', query: EndpointsQuery, answer: { status: 200, schema: 'ServiceEndpoints' } },
  { method: 'put', path: `${ONE}/endpoints`, operationId: 'setEndpoints', summary: 'Set the endpoints of a service without containers by hand', body: 'SetEndpointsRequest', answer: { status: 200, schema: 'Service' } },
  { method: 'get', path: '/v1/grids/{grid}/volumes', operationId: 'listVolumes', summary: "The stateful services' per-slot data directories that exist on the nodes (also those a removed service left)", query: VolumesQuery, answer: { status: 200, schema: 'SlotVolumeList' } },
  { method: 'get', path: '/v1/watch', operationId: 'watch', summary: 'Every store change from a revision (NDJSON, until the client disconnects)', query: WatchQuery, answer: { status: 200, schema: 'WatchEvent', ndjson: true } },
];

/** Components: name → schema. Request bodies take the spec by reference. */
function componentSchemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  const add = (id: string, schema: z.ZodType): void => {
    registry.add(schema, { id });
  };
  add('ServiceSpecInput', ServiceSpecSchema);
  add('ContainerSpec', ContainerSpecSchema);
  add('RestartPolicy', RestartPolicySchema);
  add('UpdateConfig', UpdateConfigSchema);
  add('ServicePort', ServicePortSchema);
  add('CreateServiceRequest', CreateServiceBody.extend({ spec: ServiceSpecSchema }));
  add('UpdateServiceRequest', UpdateServiceBody.extend({ spec: ServiceSpecSchema }));
  add('DeployRequest', DeployBody);
  add('ScaleRequest', ScaleBody);
  add('VersionRequest', VersionBody);
  add('RollbackRequest', RollbackBody);
  add('ServiceWithExplanation', responses.ServiceWithExplanationSchema);
  add('ServiceExplanation', responses.ExplanationSchema);
  add('SpecHistory', responses.SpecHistorySchema);
  add('SpecRevision', responses.SpecRevisionSchema);
  add('UpdateStatus', responses.UpdateStatusSchema);
  add('EventLine', responses.EventLineSchema);
  add('TimelineLine', responses.TimelineLineSchema);
  add('SetEndpointsRequest', SetEndpointsBody);
  add('ServiceEndpoints', responses.ServiceEndpointsSchema);
  add('Service', responses.ServiceSchema);
  add('ServiceList', responses.ServiceListSchema);
  add('Instance', responses.InstanceSchema);
  add('InstanceList', responses.InstanceListSchema);
  add('ServiceEvent', responses.ServiceEventSchema);
  add('NodeInfo', responses.NodeInfoSchema);
  add('NodeList', responses.NodeListSchema);
  add('NodeDetail', responses.NodeDetailSchema);
  add('UpdateNodeRequest', UpdateNodeBody);
  add('JoinNodeRequest', JoinNodeBody);
  add('NodeHeartbeatRequest', NodeHeartbeatBody);
  add('JoinedNode', responses.JoinedNodeSchema);
  add('HeartbeatAnswer', responses.HeartbeatAnswerSchema);
  add('ClusterSnapshot', responses.ClusterSnapshotSchema);
  add('PlanRequest', PlanBody);
  add('WhatIfPlan', responses.WhatIfPlanSchema);
  add('InstanceCredentials', responses.InstanceCredentialsSchema);
  add('StatusReport', StatusReportBody);
  add('DataPlaneReport', DataPlaneReportBody);
  add('DataPlaneBarrier', DataPlaneBarrierBody);
  add('DataPlaneBarrierAnswer', responses.DataPlaneBarrierAnswerSchema);
  add('StatusReportAnswer', responses.StatusReportAnswerSchema);
  add('LogLine', responses.LogLineSchema);
  add('InstanceStats', responses.InstanceStatsSchema);
  add('InstanceStatsList', responses.InstanceStatsListSchema);
  add('WatchEvent', responses.WatchEventSchema);
  add('SlotVolume', responses.SlotVolumeSchema);
  add('SlotVolumeList', responses.SlotVolumeListSchema);
  add('Error', responses.ErrorSchema);
  add('VersionInfo', responses.VersionInfoSchema);
  add('Identity', responses.IdentitySchema);
  add('Grid', responses.GridSchema);
  add('GridList', responses.GridListSchema);
  add('TokenInfo', responses.TokenInfoSchema);
  add('TokenList', responses.TokenListSchema);
  add('CreatedToken', responses.CreatedTokenSchema);
  add('CreateGridRequest', CreateGridBody);
  add('CreateTokenRequest', CreateTokenBody);
  add('CreateSecretRequest', CreateSecretBody);
  add('UpdateSecretRequest', UpdateSecretBody);
  add('SecretInfo', responses.SecretInfoSchema);
  add('SecretList', responses.SecretListSchema);
  const { schemas } = z.toJSONSchema(registry, { io: 'input', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Record<string, unknown>;
    out[id] = rest;
  }
  out['OpenApiDocument'] = { type: 'object', description: 'An OpenAPI 3.1 document' };
  out['Empty'] = { type: 'null', description: 'No body' };
  return out;
}

function queryParameters(query: z.ZodObject): unknown[] {
  return Object.entries(query.shape).map(([name, schema]) => {
    const { $schema: _s, description, ...json } = z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    return { name, in: 'query', required: false, ...(description ? { description } : {}), schema: json };
  });
}

function pathParameters(path: string): unknown[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string', ...(name === 'grid' ? { pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 } : {}) },
    description: name === 'grid' ? 'Grid (namespace), a DNS-1035 label; the CLI sends "default"' : name === 'instance' ? 'A slot number (its live instance) or an instance id' : name === 'secret' ? 'Secret name' : name === 'node' ? 'Node name' : name === 'id' ? 'Token id' : 'Service name',
  }));
}

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });

/** Builds the whole document. */
export function buildOpenApiDocument(info: { readonly version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters = [...pathParameters(op.path), ...(op.query ? queryParameters(op.query) : [])];
    const content = op.answer.ndjson
      ? { 'application/x-ndjson': { schema: ref(op.answer.schema) } }
      : { 'application/json': { schema: ref(op.answer.schema) } };
    (paths[op.path] ??= {})[op.method] = {
      operationId: op.operationId,
      ...(routeAccess(op.method.toUpperCase(), op.path.replace(/\{(\w+)\}/g, ':$1'))?.kind === 'public' ? { security: [] } : {}),
      summary: op.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: op.body !== 'VersionRequest' && op.body !== 'DeployRequest' && op.body !== 'RollbackRequest', content: { 'application/json': { schema: ref(op.body) } } } } : {}),
      responses: {
        [String(op.answer.status)]: { description: op.answer.ndjson ? 'NDJSON: one value per line; empty lines are heartbeats' : 'OK', content },
        default: { description: `Error (status by code: ${Object.entries(ERROR_STATUS).map(([c, s]) => `${c} ${s}`).join(', ')})`, content: { 'application/json': { schema: ref('Error') } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'berth', version: info.version, description: 'The berth HTTP API (docs/api.md).' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    // Every route but version and this document needs a bearer token (api/access-control.ts).
    security: [{ bearer: [] }],
    components: { schemas: componentSchemas(), securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A berth token (`berth token create`; the server writes an admin token to <data-dir>/admin.token)' } } },
  };
}
