import { z } from 'zod';
import { InstanceStatusSchema } from './response-schemas.js';
import { parseDuration } from '../lib/index.js';
import { DNS1035_LABEL, DNS1035_MAX, DNS1035_MESSAGE, DNS1123_SUBDOMAIN, LABEL_KEY, LABEL_VALUE, LIMITS, NODE_AVAILABILITIES, RequestInvalidError, SECRET_KEY, SECRET_LIMITS, SECRET_NAME_MAX } from '../model/index.js';

/*
 * Schemas of everything a request carries besides the service spec (which only parseServiceSpec checks).
 * The same schemas validate requests and feed the OpenAPI document, so the two cannot disagree.
 * Every error message reads after its field name: `replicas: must be an integer >= 0`.
 */

const COUNT = 'must be an integer >= 0';
const count = z.int({ error: COUNT }).min(0, { error: COUNT });
const version = z
  .int({ error: 'must be the integer version you read (Service.version)' })
  .min(0, { error: 'must be the integer version you read (Service.version)' })
  .describe('The Service.version the change is based on; 409 VERSION_CONFLICT when the service has moved on.');
const flag = z.boolean({ error: 'must be true or false' });
const specPlaceholder = z.unknown().optional().describe('A service spec (ServiceSpecInput); validated by parseServiceSpec.');

export const CreateServiceBody = z.strictObject({
  spec: specPlaceholder,
  deploy: flag.optional().describe('Deploy at once (default false: create does not deploy, as Kontena).'),
});
export const UpdateServiceBody = z.strictObject({
  spec: specPlaceholder,
  version: version.optional(),
  deploy: flag.optional().describe('Deploy the new spec at once (default false).'),
});
export const DeployBody = z.strictObject({
  version: version.optional(),
  force: flag.optional().describe('Also replace every instance, even when nothing changed.'),
});
export const ScaleBody = z.strictObject({
  replicas: count.describe('The new number of instances; the service is deployed at once.'),
  version: version.optional(),
});
export const VersionBody = z.strictObject({ version: version.optional() });
export const RollbackBody = z.strictObject({
  version: version.optional(),
  to: z
    .int({ error: 'must be a generation number from the history (GET …/history)' })
    .min(1, { error: 'must be a generation number from the history (GET …/history)' })
    .optional()
    .describe('The generation whose spec to deploy again; default: the one deployed before the current deployment.'),
});

// Query values arrive as strings, or as arrays when a parameter is repeated.
const queryCount = z.string({ error: 'must be given once, as an integer >= 0' }).regex(/^\d+$/, { error: COUNT }).transform(Number);
const queryFlag = z
  .enum(['true', 'false', '1', '0', ''], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === '');
const queryText = z.string({ error: 'must be given once' });

export const DryRunQuery = z.strictObject({
  dryRun: z
    .enum(['All', 'true', 'false', '1', '0', ''], { error: 'must be All or true (validate, store nothing) or false' })
    .transform((v) => v === 'All' || v === 'true' || v === '1' || v === '')
    .optional()
    .describe("Kubernetes' dryRun=All: validate and allocate as the real request does, answer what would be stored, store nothing."),
});
export const ListServicesQuery = z.strictObject({
  label: z
    .union([queryText, z.array(z.string())], { error: 'must be key=value' })
    .optional()
    .describe('key=value; repeat to require several labels.'),
});
export const RemoveServiceQuery = z.strictObject({
  version: queryCount.optional(),
  volumes: queryFlag.optional().describe("Also delete the stateful service's per-slot data directories once its instances are gone (default: kept)."),
});
export const VolumesQuery = z.strictObject({ service: queryText.optional().describe('Only the data directories of this service (it need not exist any more).') });
export const InstancesQuery = z.strictObject({ active: queryFlag.optional().describe('Only instances that have not terminated.') });
export const LogsQuery = z.strictObject({
  tail: queryCount.optional().describe('Last N lines (default: all).'),
  since: queryText.optional().describe('RFC 3339 time, or a duration back from now (10m, 1h).'),
  follow: queryFlag.optional().describe('Keep streaming new lines until the client disconnects.'),
  instance: queryText.optional().describe('A slot number or an instance id.'),
  events: queryFlag
    .optional()
    .describe('Merge the service\'s events into the stream in time order, as {kind: "event", time, event} lines (tail counts lines and events each).'),
  afterEvent: queryCount
    .optional()
    .describe('With events=true: the events are those with a larger id (ids are store revisions), whatever their time, and tail and since count only the log lines: the id of the last event a client received, to resume a broken timeline with no event lost or sent twice.'),
});
/** Most instance ids in one request to a node's telemetry listener (the URL stays below 8 KiB); the servers split larger sets. */
export const NODE_TELEMETRY_MAX_IDS = 100;
const nodeInstanceIds = z
  .union([z.string().min(1).max(256), z.array(z.string().min(1).max(256))], { error: 'must be instance ids (id=…&id=…)' })
  .transform((v) => (typeof v === 'string' ? [v] : v))
  .refine((ids) => ids.length <= NODE_TELEMETRY_MAX_IDS, { error: `at most ${NODE_TELEMETRY_MAX_IDS} instance ids per request` });
/** `GET /v1/node/instances/logs` of an agent's telemetry listener (docs/node-telemetry.md). */
export const NodeLogsQuery = z.strictObject({
  id: nodeInstanceIds,
  tail: queryCount.optional().describe('Last N lines of the merged stream (default: all).'),
  since: z
    .string({ error: 'must be given once' })
    .refine((v) => RFC3339_TIME.test(v) && Number.isFinite(Date.parse(v)), { error: 'must be an RFC 3339 time (2026-01-02T15:04:05.123456789Z)' })
    .optional(),
  follow: queryFlag.optional(),
});
/** `GET /v1/node/instances/stats` of an agent's telemetry listener. */
export const NodeStatsQuery = z.strictObject({ id: nodeInstanceIds });
export const EventsQuery = z.strictObject({
  tail: queryCount.optional().describe('Last N events (default: all kept, at most 1000 per service).'),
  after: queryCount
    .optional()
    .describe('Only events with a larger id (ids are store revisions): the id of the last event a client received, to resume a broken stream with no event lost or sent twice.'),
  since: queryText.optional().describe('RFC 3339 time, or a duration back from now (10m, 1h).'),
  follow: queryFlag.optional().describe('Keep streaming new events until the client disconnects.'),
});
export const WatchQuery = z.strictObject({
  fromRevision: queryCount.optional().describe('First revision to stream (inclusive, as etcd); default: changes from now on.'),
});

export interface RequestCause {
  readonly field: string;
  readonly message: string;
}

/**
 * Parses a body or query with `schema`. An absent body counts as `{}` (every field optional).
 * @throws RequestInvalidError naming each offending field in the message and in `details.causes`.
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const causes = result.error.issues.flatMap((issue): RequestCause[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = schema instanceof z.ZodObject ? Object.keys(schema.shape as object) : [];
      const expected = known.length ? `; expected one of: ${known.join(', ')}` : '';
      const what = where === 'query' ? 'unknown query parameter' : 'unknown field';
      return issue.keys.map((key) => ({ field: key, message: `${what}${expected}` }));
    }
    if (issue.path.length === 0) {
      return [{ field: where, message: where === 'body' ? 'must be a JSON object' : issue.message }];
    }
    return [{ field: issue.path.map(String).join('.'), message: issue.message }];
  });
  throw new RequestInvalidError(causes.map((c) => `${c.field}: ${c.message}`).join('; '), { causes });
}

/** Checks the `:grid` path parameter: grids are DNS-1035 labels, as Kubernetes namespaces. */
export function checkGrid(grid: string): string {
  if (grid.length > DNS1035_MAX || !DNS1035_LABEL.test(grid)) {
    const message = `Invalid value ${JSON.stringify(grid)}: ${DNS1035_MESSAGE}`;
    throw new RequestInvalidError(`grid: ${message}`, { causes: [{ field: 'grid', message }] });
  }
  return grid;
}

/** A full RFC 3339 time with its zone (what servers pass on to agents). */
const RFC3339_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Reads a `since` value: an RFC 3339 time, or a Go-style duration back from `nowMs`
 * (as `docker service logs --since 10m`). Returns RFC 3339 in UTC with nine fraction digits
 * (`2026-01-02T15:04:05.123456789Z`), the digits past the millisecond kept as given: log lines carry
 * nanosecond times and are compared with it as strings, so a client that resumes a followed stream
 * from its last line's time (`since=` that time) is sent exactly the lines from it on.
 * @throws RequestInvalidError for anything else.
 */
export function parseSince(since: string, nowMs: number): string {
  const text = since.trim();
  if (RFC3339.test(text)) {
    const ms = Date.parse(text);
    const fraction = /:\d{2}\.(\d+)/.exec(text)?.[1] ?? '';
    if (Number.isFinite(ms)) return nanosecondTime(ms, fraction.slice(3, 9));
  } else {
    try {
      return nanosecondTime(nowMs - parseDuration(text), '');
    } catch {
      // reported below
    }
  }
  const message = `must be an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (30s, 10m, 1h), got ${JSON.stringify(since)}`;
  throw new RequestInvalidError(`since: ${message}`, { causes: [{ field: 'since', message }] });
}

/** `ms` (epoch) as RFC 3339 UTC with nine fraction digits, `belowMs` (up to six digits) after the milliseconds. */
function nanosecondTime(ms: number, belowMs: string): string {
  return new Date(ms).toISOString().replace(/Z$/, `${belowMs.padEnd(6, '0')}Z`);
}

/** Reads `label=key=value` selectors; a bare `key` asks only that the label exists. */
export function parseLabelSelectors(label: string | readonly string[] | undefined): Array<readonly [string, string | undefined]> {
  const items = label === undefined ? [] : typeof label === 'string' ? [label] : label;
  return items.map((item) => {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') {
      const message = `must be key=value, got ${JSON.stringify(item)}`;
      throw new RequestInvalidError(`label: ${message}`, { causes: [{ field: 'label', message }] });
    }
    return [key, eq < 0 ? undefined : item.slice(eq + 1)] as const;
  });
}

/** PUT …/endpoints: hand-set endpoints of a service without containers. */
export const SetEndpointsBody = z.strictObject({ addresses: z.array(z.string()), version: version.optional() });

/** GET …/endpoints: `follow=true` streams the endpoints (NDJSON) each time they change. */
export const EndpointsQuery = z.strictObject({ follow: queryFlag.optional() });

const gridName = z
  .string({ error: 'must be a grid name' })
  .max(DNS1035_MAX, { error: `must be at most ${DNS1035_MAX} characters` })
  .regex(DNS1035_LABEL, { error: DNS1035_MESSAGE });

export const CreateGridBody = z.strictObject({
  name: gridName.describe('The grid name (a DNS-1035 label).'),
  labels: z.record(z.string().max(63), z.string().max(63)).optional(),
});

export const CreateTokenBody = z.strictObject({
  role: z.enum(['cluster-admin', 'admin', 'operator', 'viewer', 'node'], { error: 'must be one of cluster-admin, admin, operator, viewer, node' }),
  grid: gridName.optional().describe('The grid of a grid role (admin, operator, viewer); none for cluster-admin and node (a join token: `berth agent --join`).'),
  name: z
    .string({ error: 'must be a short description' })
    .min(1, { error: 'must not be empty' })
    .max(100, { error: 'must be at most 100 characters' })
    .refine((v) => ![...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f), { error: 'must not hold control characters' })
    .optional()
    .describe('What the token is for (listed by `token ls`).'),
  ttl: z
    .union([z.string(), z.number()], { error: 'must be a duration such as 24h or 30d' })
    .optional()
    .describe('How long the token is valid, e.g. 24h or 30d; default: until revoked.'),
});

export const ListTokensQuery = z.strictObject({ grid: gridName.optional() });

const secretData = z
  .record(
    z.string().max(SECRET_NAME_MAX, { error: `must be at most ${SECRET_NAME_MAX} characters` }).regex(SECRET_KEY, { error: 'keys are letters, digits, "-", "_" and "."' }),
    z.string({ error: 'values must be strings' }),
    { error: 'must be an object of key: value strings' },
  )
  .refine((d) => Object.keys(d).length <= SECRET_LIMITS.keys, { error: `must have at most ${SECRET_LIMITS.keys} keys` })
  .refine((d) => Object.values(d).reduce((n, v) => n + Buffer.byteLength(v), 0) <= SECRET_LIMITS.totalBytes, { error: `values must total at most ${SECRET_LIMITS.totalBytes} bytes` })
  .describe('key: value; the values are never returned.');

export const CreateSecretBody = z.strictObject({
  name: z
    .string({ error: 'must be a secret name' })
    .max(SECRET_NAME_MAX, { error: `must be at most ${SECRET_NAME_MAX} characters` })
    .regex(DNS1123_SUBDOMAIN, { error: 'must be lower-case letters, digits, "-" and "." (an RFC 1123 subdomain)' }),
  data: secretData,
});
export const UpdateSecretBody = z.strictObject({
  data: secretData,
  merge: flag.optional().describe('Keep the keys not given (default false: the data replaces all keys).'),
});

const nodeLabelKey = z
  .string()
  .max(LIMITS.labelKeyLength, { error: `must be at most ${LIMITS.labelKeyLength} characters` })
  .regex(LABEL_KEY, { error: 'must be a label key: [prefix/]name, letters, digits, "-", "_" and "." (Kubernetes\' label syntax)' });
const nodeLabelValue = z.string().regex(LABEL_VALUE, { error: 'must be a label value: at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit' });

const nodeLabels = z.record(nodeLabelKey, nodeLabelValue).refine((d) => Object.keys(d).length <= LIMITS.labels, { error: `must have at most ${LIMITS.labels} labels` });

/** `PATCH /v1/nodes/{node}` (`berth node update`, Swarm's `docker node update`). */
export const UpdateNodeBody = z
  .strictObject({
    version: version.optional().describe('The NodeInfo.version the change is based on; 409 VERSION_CONFLICT when the node has moved on.'),
    availability: z.enum(NODE_AVAILABILITIES, { error: 'must be active, pause or drain' }).optional().describe('active takes new instances; pause keeps what runs and takes nothing new; drain moves its instances elsewhere.'),
    labels: nodeLabels.optional().describe('Replaces every label of the node.'),
    labelsAdd: nodeLabels.optional().describe('Labels to add or change (`--label-add key=value`).'),
    labelsRemove: z.array(nodeLabelKey).max(LIMITS.labels, { error: `must be at most ${LIMITS.labels} keys` }).optional().describe('Label keys to remove (`--label-rm key`).'),
  })
  .refine((b) => !(b.labels && (b.labelsAdd || b.labelsRemove)), { error: 'give either labels (the whole set) or labelsAdd/labelsRemove, not both', path: ['labels'] });
export const RemoveNodeQuery = z.strictObject({
  force: queryFlag.optional().describe('Remove a node whose agent still reports (its instances are replaced elsewhere).'),
});

const nodeName = z
  .string({ error: 'must be a node name' })
  .max(253, { error: 'must be at most 253 characters' })
  .regex(DNS1123_SUBDOMAIN, { error: 'must be lower-case letters, digits, "-" and "." (an RFC 1123 subdomain, as a host name)' });
const shortText = z.string().max(LIMITS.textLength);

/** What an agent says of its machine when it joins and with every heartbeat (model/node.ts NodeRegistration). */
export const NodeFactsBody = z.strictObject({
  address: z.string().max(64).regex(/^[0-9a-fA-F:.]+$/, { error: 'must be an IP address' }).describe('where the node\'s node ports and published ports open'),
  drivers: z.array(z.enum(['process', 'docker', 'fake'])).max(8),
  unavailableDrivers: z.record(z.string().max(32), shortText).optional(),
  containerNetwork: z.strictObject({ name: shortText, subnet: shortText, gateway: shortText, dns: shortText.optional(), problems: z.array(z.string().max(1024)).max(8).optional() }).optional(),
  os: z.string().max(64),
  arch: z.string().max(64),
  capacity: z.strictObject({ cpus: z.number().min(0).max(1_000_000), memoryBytes: z.number().int().min(0).max(2 ** 60) }),
  telemetryPort: z.int().min(1).max(65535).optional().describe("the agent's telemetry listener at `address` (logs and stats of the node's instances)"),
  telemetryFingerprint: z
    .string()
    .regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, { error: 'must be a SHA-256 fingerprint: 32 upper-case hex bytes joined by ":"' })
    .optional()
    .describe("SHA-256 of the telemetry listener's certificate: the servers speak HTTPS to it and accept only that certificate"),
});
/** `POST /v1/nodes/join` (`berth agent --join`). */
export const JoinNodeBody = NodeFactsBody.extend({
  name: nodeName,
  labels: nodeLabels.optional().describe('the node\'s labels when it is new (later: berth node update)'),
});
/** `PUT /v1/nodes/{node}/heartbeat`. */
export const NodeHeartbeatBody = NodeFactsBody;

/** `PUT /v1/nodes/{node}/data-plane`: the store revision of the newest endpoints snapshot the node's DNS and proxy applied. */
export const DataPlaneReportBody = z.strictObject({ revision: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

/** `POST /v1/nodes/{node}/data-plane/barrier`: wait until every node's data plane applied `revision` (at most 30 s). */
export const DataPlaneBarrierBody = z.strictObject({
  revision: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  timeoutMs: z.number().int().min(0).max(30_000).optional(),
});

/** Most statuses and events in one report (an agent batches one tick's worth). */
const MAX_REPORT = 5000;

/** `POST /v1/nodes/{node}/statuses`: one tick of an agent's observations. */
export const StatusReportBody = z.strictObject({
  updates: z.array(z.strictObject({ id: z.string().max(256), status: InstanceStatusSchema })).max(MAX_REPORT),
  events: z
    .array(
      z.strictObject({
        grid: z.string().max(63),
        service: z.string().max(63),
        type: z.string().regex(/^instance\.[a-z_]+$/, { error: 'an agent reports instance.* events only' }),
        severity: z.enum(['info', 'warning', 'error']),
        message: z.string().max(4096),
        instance: z.string().max(256),
        slot: z.int().min(1).optional(),
        data: z.record(z.string(), z.unknown()).optional(),
        time: z.string().max(64).optional(),
      }),
    )
    .max(MAX_REPORT),
});


/** `POST /v1/plan` (`berth plan`): exactly one hypothetical change. */
export const PlanBody = z
  .strictObject({
    failNode: nodeName.optional().describe('What if this node failed (down, its replicated instances replaced elsewhere)?'),
    drain: nodeName.optional().describe('What if this node were drained?'),
    addNode: z
      .strictObject({
        name: nodeName.optional(),
        labels: nodeLabels.optional(),
        capacity: z.strictObject({ cpus: z.number().min(0).max(1_000_000), memoryBytes: z.number().int().min(0).max(2 ** 60) }).optional(),
        drivers: z.array(z.enum(['process', 'docker', 'fake'])).max(8).optional(),
      })
      .optional()
      .describe('What if a node with these labels (and capacity, drivers: default the first node\'s) joined?'),
  })
  .refine((b) => [b.failNode, b.drain, b.addNode].filter((v) => v !== undefined).length === 1, { error: 'give exactly one of failNode, drain, addNode', path: ['failNode'] });
