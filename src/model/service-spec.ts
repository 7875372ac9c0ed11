import { z } from 'zod';
import { GRID_ROLES } from './access.js';
import { LIMITS } from './limits.js';
import { HealthcheckSchema, ProbeSchema, durationIssue } from './probe.js';
import { PlacementSchema } from './placement.js';
import { DNS1035_LABEL, DNS1035_MAX, DNS1123_LABEL, DNS1123_LABEL_MAX, DNS1123_SUBDOMAIN, ENV_NAME, IANA_SVC_NAME, IPV4, LABEL_KEY, LABEL_VALUE, STOP_SIGNALS } from './names.js';
import { parseCpus, parseMemoryBytes } from '../lib/index.js';

/*
 * The service spec: the one schema that API types, the client's types, validation and the OpenAPI
 * document come from. Input is lenient where a seed is (env as a map or a list, command as a string,
 * durations as "5s" or seconds, DevSpace's containerPort); the stored form is fully defaulted and
 * normalized (Kubernetes stores defaulted objects too), so `show -o yaml` shows what will run.
 */

/** A duration: "500ms", "5s", "1m30s", or a number of seconds. Stored as the string the user wrote, normalized. */
const duration = z
  .union([z.string().max(64), z.number()])
  .superRefine((v, ctx) => {
    const issue = durationIssue(v);
    if (issue) ctx.addIssue(issue);
  })
  .transform((v) => (typeof v === 'number' ? `${v}s` : v.trim()));

const port = z.number().int().min(1).max(65535);
const protocol = z
  .string()
  .transform((p) => p.toUpperCase())
  .pipe(z.enum(['TCP', 'UDP']));

/** A secret's name (RFC 1123 subdomain, as Kubernetes' Secret) and a key inside it. */
export const SECRET_NAME_MAX = 253;
export const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * An env var's value from a secret of the grid (Kubernetes' valueFrom.secretKeyRef): the spec holds the
 * reference only; the value is read when the container starts and never appears in the spec, its
 * history, events or API answers.
 */
const secretKeyRef = z.strictObject({
  name: z.string().max(SECRET_NAME_MAX).regex(DNS1123_SUBDOMAIN, 'must be a secret name: lower-case letters, digits, "-" and "."'),
  key: z.string().max(SECRET_NAME_MAX).regex(SECRET_KEY, 'must be a secret key: letters, digits, "-", "_" and "."'),
});

const envVar = z
  .strictObject({
    name: z.string().max(LIMITS.envNameLength).regex(ENV_NAME),
    value: z.string().max(LIMITS.envValueLength).optional(),
    valueFrom: z.strictObject({ secretKeyRef }).optional(),
  })
  .refine((v) => !(v.value !== undefined && v.valueFrom !== undefined), { message: 'give value or valueFrom, not both', path: ['valueFrom'] })
  .transform((v): { name: string; value: string } | { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } } =>
    v.valueFrom ? { name: v.name, valueFrom: v.valueFrom } : { name: v.name, value: v.value ?? '' },
  );

/** env as `{K: v}`, `["K=v"]` or `[{name, value}]` (Kubernetes, Swarm and Kontena forms), stored as a list. */
const envInput = z.preprocess((raw) => {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) {
    return raw.map((item) => {
      if (typeof item !== 'string') return item;
      const eq = item.indexOf('=');
      return eq > 0 ? { name: item.slice(0, eq), value: item.slice(eq + 1) } : { name: item, value: undefined };
    });
  }
  if (typeof raw === 'object') {
    return Object.entries(raw as Record<string, unknown>).map(([name, value]) => ({
      name,
      value: typeof value === 'number' || typeof value === 'boolean' ? String(value) : value,
    }));
  }
  return raw;
}, z.array(envVar).max(LIMITS.envEntries));

const containerPort = z.strictObject({
  name: z.string().max(15).regex(IANA_SVC_NAME).optional(),
  containerPort: port,
  protocol: protocol.default('TCP'),
});

/** A command as a list (exec form) or one string, run as `/bin/sh -c STRING` (Docker's shell form). */
const arg = z.string().max(LIMITS.argLength);
const command = z.preprocess(
  (raw) => (typeof raw === 'string' ? ['/bin/sh', '-c', raw] : raw),
  z.array(arg).min(1).max(LIMITS.argv),
);

// Label keys and values are bounded by their syntax; how many there are by LIMITS.labels (specLimitErrors).
const labelKey = z.string().max(LIMITS.labelKeyLength).regex(LABEL_KEY);
const labelMap = z.record(labelKey, z.string().regex(LABEL_VALUE));

/** A quantity parsed by `parse` (resource-quantities.ts), refused with its message. */
function quantity(parse: (v: string | number) => number): z.ZodType<number, string | number> {
  return z
    .union([z.number(), z.string().max(64)])
    .superRefine((v, ctx) => {
      try {
        parse(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message, params: { type: 'Invalid value' } });
      }
    })
    .transform((v) => parse(v));
}

/** Bytes: a number, or "256Mi", "512m", "1G", "1Gi" (powers of 1024, as Docker counts). Stored as a number. */
const memory = quantity(parseMemoryBytes);
/** CPUs: 0.5, 2, or Kubernetes' "500m". Stored as a number with at most 3 decimals (Swarm's NanoCPUs = cpus × 1e9). */
const cpus = quantity(parseCpus);

const resourceList = z.strictObject({ cpus: cpus.optional(), memory: memory.optional() });

/**
 * Swarm's Resources (Kubernetes' ResourceRequirements): `limits` are enforced by Docker (memory: the
 * container is killed past it; cpus: CFS quota); `reservations` are what the container is guaranteed
 * (Docker's memory reservation and CPU shares). Each reservation at most its limit.
 */
const resources = z.strictObject({ limits: resourceList.optional(), reservations: resourceList.optional() });

/**
 * A mount (Swarm's Mount, `docker --mount`): `bind` a host path (cluster-admin only: it reaches the
 * host), `volume` a named Docker volume (no source: the slot's own volume in a stateful service, an
 * anonymous one otherwise), or `tmpfs` a memory file system. Cross-field rules: container-rules.ts.
 */
const mount = z.strictObject({
  type: z.enum(['bind', 'volume', 'tmpfs']),
  /** bind: an absolute host path (required); volume: a volume name (optional); tmpfs: none. */
  source: z.string().min(1).max(LIMITS.pathLength).optional(),
  /** Absolute path in the container, not `/`; unique in the container. */
  target: z.string().max(LIMITS.pathLength).startsWith('/'),
  readOnly: z.boolean().default(false),
  /** tmpfs only: size in bytes (or "64Mi"); default: Docker's (half of the host's memory). */
  tmpfsSize: memory.optional(),
});

export const ContainerSpecSchema = z.strictObject({
  /** Unique in the service; defaults to the service name when there is one container. */
  name: z.string().max(DNS1035_MAX).regex(DNS1035_LABEL).optional(),
  /** Docker image (docker driver). Without it the container runs as a plain process. */
  image: z.string().min(1).max(LIMITS.textLength).optional(),
  command: command.optional(),
  args: z.array(arg).max(LIMITS.argv).default([]),
  env: envInput.default([]),
  /** Absolute directory the process starts in; the CLI fills in the caller's directory. */
  workingDir: z.string().max(LIMITS.pathLength).startsWith('/').optional(),
  /** User to run as (name or uid); only honoured when berth runs as root. */
  user: z.string().min(1).max(LIMITS.textLength).optional(),
  /**
   * Kubernetes' imagePullPolicy: IfNotPresent (pull only when the image is not on the node), Always
   * (pull at every start), Never (fail when absent). Only with `image`; stored as IfNotPresent when an
   * image is given without it (the issue's choice; Kubernetes defaults to Always for `:latest`).
   */
  imagePullPolicy: z.enum(['IfNotPresent', 'Always', 'Never']).optional(),
  /** The container's hostname (Swarm's Hostname): an RFC 1123 label. Only with `image`; default: Docker's (the container id). */
  hostname: z.string().max(DNS1123_LABEL_MAX).regex(DNS1123_LABEL, "must be an RFC 1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. 'web-1')").optional(),
  /** Labels on the container (Swarm's ContainerSpec.Labels), service label syntax; `io.berth.*` keys are berth's own. Absent when none. */
  labels: labelMap.optional(),
  /** Bind, volume and tmpfs mounts (Swarm's Mounts). Only with `image`; absent when none. */
  mounts: z.array(mount).max(LIMITS.mounts).optional(),
  /** CPU and memory limits and reservations (Swarm's Resources). Only with `image`; absent when none. */
  resources: resources.optional(),
  ports: z.array(containerPort).max(LIMITS.ports).default([]),
  /** As Swarm/Kontena: default SIGTERM. */
  stopSignal: z
    .string()
    .transform((s) => (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`))
    .pipe(z.enum(STOP_SIGNALS))
    .default('SIGTERM'),
  /** As Swarm and Kontena: 10 s between the stop signal and SIGKILL. */
  stopGracePeriod: duration.default('10s'),
  /** Ready to take traffic: decides membership of endpoints (DNS and virtual IP). Kubernetes' readinessProbe. */
  readinessProbe: ProbeSchema.optional(),
  /** Alive: failing it restarts the instance under the restart policy. Kubernetes' livenessProbe. */
  livenessProbe: ProbeSchema.optional(),
  /** Started: until it passes, readiness and liveness are not probed. Kubernetes' startupProbe. */
  startupProbe: ProbeSchema.optional(),
  /** Docker's HEALTHCHECK; stored as the readiness and liveness probes it stands for. */
  healthcheck: HealthcheckSchema.optional(),
});

export const RestartPolicySchema = z.strictObject({
  /** As Swarm's server default: `any`. */
  condition: z.enum(['none', 'on-failure', 'any']).default('any'),
  /** First delay before a restart, doubled per consecutive failure up to 5 min (Kubernetes' cap). Swarm: 5 s. */
  delay: duration.default('5s'),
  /** Restarts allowed within `window`; 0 = unlimited (Swarm). */
  maxAttempts: z.number().int().min(0).default(0),
  /** Window in which `maxAttempts` counts; 0 = unbounded (Swarm). */
  window: duration.default('0s'),
});

export const UpdateConfigSchema = z.strictObject({
  /** Instances replaced at once; 0 = all (Swarm). Swarm's server default: 1. */
  parallelism: z.number().int().min(0).default(1),
  delay: duration.default('0s'),
  failureAction: z.enum(['pause', 'continue', 'rollback']).default('pause'),
  /** How long a new instance must stay up to count as updated (Swarm: 5 s). */
  monitor: duration.default('5s'),
  maxFailureRatio: z.number().min(0).max(1).default(0),
  order: z.enum(['stop-first', 'start-first']).default('stop-first'),
  /**
   * Kontena's deploy_opts.min_health: the fraction of replicas kept ready during a deploy. When set,
   * at most max(1, floor(replicas × (1 − minHealth))) instances are replaced at once (and never more
   * than `parallelism`). Unset: only `parallelism` limits a batch (Swarm).
   */
  minHealth: z.number().min(0).max(1).optional(),
});

/** Kubernetes' DefaultClientIPServiceAffinitySeconds: how long ClientIP affinity lasts unless set (3 h). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

/** A port of the service's network face (Kubernetes ServicePort; DevSpace's containerPort = targetPort). */
export const ServicePortSchema = z
  .strictObject({
    name: z.string().max(15).regex(IANA_SVC_NAME).optional(),
    protocol: protocol.default('TCP'),
    port,
    targetPort: z.union([port, z.string().max(15).regex(IANA_SVC_NAME)]).optional(),
    /** DevSpace's spelling of targetPort. */
    containerPort: port.optional(),
    nodePort: z.number().int().optional(),
    /**
     * Published on the node's addresses (127.0.0.1 by default) at this port, any of 1-65535, and
     * balanced over the ready instances' targetPort, for every service type but ExternalName:
     * Kontena's `-p PUBLISHED:TARGET`, Swarm's routing mesh (PortConfig.PublishedPort).
     */
    published: port.optional(),
  })
  .transform(({ containerPort: cp, ...rest }) => ({ ...rest, targetPort: rest.targetPort ?? cp ?? rest.port }));

const labels = labelMap.default({});

export const ServiceSpecSchema = z
  .strictObject({
    name: z.string().max(DNS1035_MAX).regex(DNS1035_LABEL),
    labels,
    /**
     * Free-text notes about the service, for people and tools, never selected on (Kubernetes'
     * metadata.annotations): e.g. `berth.io/alias`, the display name the console shows (KubeSphere's
     * alias). Keys as label keys; values any text up to LIMITS.annotationLength. Absent when none.
     */
    annotations: z.record(labelKey, z.string().max(LIMITS.annotationLength)).optional(),
    /** `replicated` keeps `replicas` instances; `global` one per node (Swarm's modes). */
    mode: z.enum(['replicated', 'global']).default('replicated'),
    replicas: z.number().int().min(0).optional(),
    /** Kontena's spelling of replicas. */
    instances: z.number().int().min(0).optional(),
    /**
     * Where instances may run (Swarm's Placement): constraints such as `node.role==manager`, spread
     * preferences, platforms, instances per node at most. Checked against the nodes when stored; absent when empty.
     */
    placement: PlacementSchema.optional(),
    /** Stable slots started in order, each with a data directory kept across restarts (StatefulSet/Kontena). */
    stateful: z.boolean().default(false),
    /** At least one, except for ExternalName services and services whose endpoints are set by hand. */
    containers: z.array(ContainerSpecSchema).max(LIMITS.containers),
    restartPolicy: RestartPolicySchema.default(RestartPolicySchema.parse({})),
    updateConfig: UpdateConfigSchema.default(UpdateConfigSchema.parse({})),
    /** How a rollback is rolled out (Swarm's RollbackConfig; same fields and defaults as updateConfig). */
    rollbackConfig: UpdateConfigSchema.default(UpdateConfigSchema.parse({})),
    /**
     * Zero-downtime stop: how long an instance that is to stop (rollout, scale down, rm) may keep its
     * open proxied connections after it left the endpoints, before the stop signal is sent. Default 10 s.
     */
    drainTimeout: duration.default('10s'),
    /** The network face; served by the networking part. Kubernetes' default type is ClusterIP. */
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    ports: z.array(ServicePortSchema).max(LIMITS.ports).default([]),
    /**
     * The virtual IP: absent or "" = allocate one from the service range (default 127.96.0.0/16);
     * "None" = headless (DNS answers with the instances' addresses); or an address inside the range.
     * Filled in with the allocated address when stored, as Kubernetes does.
     */
    clusterIP: z.string().max(LIMITS.textLength).optional(),
    /** Addresses the service's ports are also served on (Kubernetes' externalIPs; DevSpace's). */
    externalIPs: z.array(z.string().max(15).regex(IPV4, 'must be an IPv4 address')).max(LIMITS.externalIPs).default([]),
    /** ExternalName: the DNS name this service is an alias of (a CNAME). */
    externalName: z.string().max(253).regex(DNS1123_SUBDOMAIN, 'must be a lower-case DNS name, e.g. db.example.org').optional(),
    /** Kubernetes' sessionAffinity: ClientIP keeps a client on one instance (KubeSphere's sticky sessions). */
    sessionAffinity: z.enum(['None', 'ClientIP']).default('None'),
    /** Set to the default (10800 s) when sessionAffinity is ClientIP and it is left out. */
    sessionAffinityConfig: z
      .strictObject({
        clientIP: z
          .strictObject({ timeoutSeconds: z.number().int().min(1).max(86_400).default(DEFAULT_AFFINITY_TIMEOUT_SECONDS) })
          .default({ timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS }),
      })
      .optional(),
    /**
     * For a service without containers: serve the instances of the services of the grid whose labels
     * include all of these (Kubernetes' selector, matched against berth services' labels).
     */
    selector: z.record(labelKey, z.string().regex(LABEL_VALUE)).optional(),
    /**
     * Endpoints set by hand ("ip:port" or "ip", then the target port), for a service with no containers:
     * Kubernetes' service without a selector, e.g. a database that runs outside berth.
     */
    endpoints: z.array(z.string().max(21).regex(/^(\d{1,3}\.){3}\d{1,3}(:\d{1,5})?$/, 'must be "ip:port" or "ip"')).max(LIMITS.endpoints).optional(),
    /** List instances that are not ready in DNS and the proxy too (StatefulSet peer discovery). */
    publishNotReadyAddresses: z.boolean().default(false),
    /**
     * The API access of the service's instances (their BERTH_API_TOKEN; Kubernetes' service account
     * bound to a role). Absent: they may read their own service only. Asking for a role needs holding it.
     */
    serviceAccount: z.strictObject({ role: z.enum(GRID_ROLES) }).optional(),
  })
  .transform(({ instances, replicas, ...rest }) => ({
    ...rest,
    // As Kubernetes defaults it: ClientIP affinity without a config lasts DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    // stored in the spec so that `show -o yaml` and the proxy say the same thing.
    ...(rest.sessionAffinity === 'ClientIP' && rest.sessionAffinityConfig === undefined
      ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS } } }
      : {}),
    replicas: rest.mode === 'global' ? 0 : (replicas ?? instances ?? 1),
    replicasGiven: replicas !== undefined || instances !== undefined,
    instancesAndReplicas: replicas !== undefined && instances !== undefined,
    /** The count was given as Kontena's `instances`: errors about it name that field. */
    instancesGiven: replicas === undefined && instances !== undefined,
  }));

type ParsedSpec = z.output<typeof ServiceSpecSchema>;
type Normalized<T> = Omit<T, 'replicasGiven' | 'instancesAndReplicas' | 'instancesGiven'>;

/** The stored, fully defaulted service spec. */
export type ServiceSpec = Normalized<ParsedSpec>;
/** What a user may send: the same fields, most optional. */
export type ServiceSpecInput = z.input<typeof ServiceSpecSchema>;
export type ContainerSpec = ServiceSpec['containers'][number];
export type ContainerPort = ContainerSpec['ports'][number];
export type ImagePullPolicy = NonNullable<ContainerSpec['imagePullPolicy']>;
export type Mount = NonNullable<ContainerSpec['mounts']>[number];
export type MountType = Mount['type'];
export type ContainerResources = NonNullable<ContainerSpec['resources']>;
export type ResourceList = NonNullable<ContainerResources['limits']>;
export type EnvVar = ContainerSpec['env'][number];
export type RestartPolicy = ServiceSpec['restartPolicy'];
export type UpdateConfig = ServiceSpec['updateConfig'];
export type ServicePort = ServiceSpec['ports'][number];
export type ServiceMode = ServiceSpec['mode'];
export type ServiceType = ServiceSpec['type'];

/** Internal: the parse result before cross-field checks strip the bookkeeping flags. */
export type ParsedServiceSpec = ParsedSpec;
