import { z } from 'zod';
import { ERROR_CODES } from '../model/index.js';
import { InstanceSchema } from './instance-schemas.js';
import { NodeInfoSchema } from './node-schemas.js';
import { count } from './schema-fields.js';
import { ServiceEventSchema, ServiceSchema } from './service-schemas.js';

/*
 * zod mirrors of the TypeScript-only model types (Service, Instance, …), used for the OpenAPI document
 * and, in the tests, to check real answers against it (strict objects: a field added to a model type
 * and not here fails the API tests). Specs reuse model's schemas: a stored spec is also a valid input.
 *
 * This module is the one place to import them from: it holds the watch's changes, the error answer and
 * the version, and re-exports the rest, one file per concept (services, explanations, instances,
 * telemetry, nodes, access).
 */

export * from './service-schemas.js';
export * from './explanation-schemas.js';
export * from './instance-schemas.js';
export * from './telemetry-schemas.js';
export * from './node-schemas.js';
export * from './access-schemas.js';

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
  containerProblems: z.array(z.string()).optional().describe('what containers on this node cannot do, one sentence each with its fix (e.g. reach loopback virtual IPs)'),
  controlPlane: z
    .strictObject({
      role: z.enum(['leader', 'follower', 'electing']),
      leader: z.string().optional(),
      servers: z.array(z.strictObject({ id: z.string(), url: z.string(), leader: z.boolean() })).describe('every server registered in etcd, sorted by id'),
    })
    .optional()
    .describe('several servers on etcd: this server\'s role, the leader\'s API URL and every server (docs/control-plane.md)'),
  cluster: z
    .strictObject({ id: z.string(), instanceRange: z.string(), serviceRange: z.string(), nodePortRange: z.string().describe('"30000-32767"'), containerRange: z.string().optional().describe('the subnet of every node\'s Docker bridge, where instances with images are addressed') })
    .optional()
    .describe('the ranges this cluster hands out and what names it in a machine\'s range registry (BERTH_RANGES_DIR): agents claim them there (docs/networking.md)'),
});
