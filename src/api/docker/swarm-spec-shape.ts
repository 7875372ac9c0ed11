import { z } from 'zod';
import { DockerApiError } from './docker-errors.js';

/*
 * The JSON types of the ServiceSpec fields the face reads, checked before the mapping reads them, as
 * the engine's json.Unmarshal refuses a string where a list belongs (400). Unknown fields pass (the
 * engine ignores them); `null` is Go's nil. Without this a string `Command` would become a shell
 * command and a string `Constraints` a list of letters.
 */

const str = z.string().nullish();
const num = z.number().nullish();
const bool = z.boolean().nullish();
const strings = z.array(z.string()).nullish();
const stringMap = z.record(z.string(), z.string()).nullish();
const obj = <T extends z.ZodRawShape>(shape: T) => z.looseObject(shape).nullish();
const any = z.unknown().optional();

const driver = obj({ Name: str, Options: stringMap });
const resources = obj({ NanoCPUs: num, MemoryBytes: num, Pids: num, GenericResources: any, SwapBytes: any, MemorySwappiness: any });
const updateConfig = obj({ Parallelism: num, Delay: num, FailureAction: str, Monitor: num, MaxFailureRatio: num, Order: str });
const networks = z.array(z.looseObject({ Target: str, Aliases: strings, DriverOpts: stringMap })).nullish();

const SwarmServiceSpecShape = z.looseObject({
  Name: str,
  Labels: stringMap,
  TaskTemplate: obj({
    ContainerSpec: obj({
      Image: str,
      Labels: stringMap,
      Command: strings,
      Args: strings,
      Hostname: str,
      Env: strings,
      Dir: str,
      User: str,
      StopSignal: str,
      Isolation: str,
      Init: bool,
      TTY: bool,
      OpenStdin: bool,
      ReadOnly: bool,
      StopGracePeriod: num,
      OomScoreAdj: num,
      // Refused when set (container-mapping.ts): named here so that their keys fold as the rest.
      Secrets: any,
      Configs: any,
      Privileges: any,
      Groups: any,
      Hosts: any,
      DNSConfig: any,
      Sysctls: any,
      CapabilityAdd: any,
      CapabilityDrop: any,
      Ulimits: any,
      Mounts: z
        .array(
          z.looseObject({
            Type: str,
            Source: str,
            Target: str,
            ReadOnly: bool,
            Consistency: str,
            BindOptions: obj({ Propagation: str }),
            VolumeOptions: obj({ NoCopy: bool, Labels: stringMap, Subpath: str, DriverConfig: driver }),
            TmpfsOptions: obj({ SizeBytes: num, Mode: num, Options: any }),
            ImageOptions: any,
            ClusterOptions: any,
          }),
        )
        .nullish(),
      Healthcheck: obj({ Test: strings, Interval: num, Timeout: num, StartPeriod: num, StartInterval: num, Retries: num }),
    }),
    Resources: obj({ Limits: resources, Reservations: resources }),
    RestartPolicy: obj({ Condition: str, Delay: num, MaxAttempts: num, Window: num }),
    Placement: obj({
      Constraints: strings,
      Preferences: z.array(z.looseObject({ Spread: obj({ SpreadDescriptor: str }) })).nullish(),
      MaxReplicas: num,
      Platforms: z.array(z.looseObject({ Architecture: str, OS: str })).nullish(),
    }),
    Networks: networks,
    LogDriver: driver,
    ForceUpdate: num,
    Runtime: str,
    PluginSpec: any,
    NetworkAttachmentSpec: any,
  }),
  Mode: obj({ Replicated: obj({ Replicas: num }), Global: z.looseObject({}).nullish(), ReplicatedJob: any, GlobalJob: any }),
  UpdateConfig: updateConfig,
  RollbackConfig: updateConfig,
  Networks: networks,
  EndpointSpec: obj({
    Mode: str,
    Ports: z.array(z.looseObject({ Name: str, Protocol: str, TargetPort: num, PublishedPort: num, PublishMode: str })).nullish(),
  }),
});

/**
 * The body with its field names spelled as the ServiceSpec's, as Go's encoding/json reads them: a key
 * that is no field's exact name takes the field whose name it matches case-insensitively (docker-py's
 * `ServiceMode('replicated', replicas=3)` sends `{"replicated": {"Replicas": 3}}`, which the engine
 * reads as `Replicated`). An exact name wins over a folded one; keys of maps (Labels, Env options,
 * DriverOpts) are never touched; unknown keys stay as they are. Returns new objects, never changes `body`.
 */
export function foldSpecKeys(body: Record<string, unknown>): Record<string, unknown> {
  return foldKeys(body, SwarmServiceSpecShape) as Record<string, unknown>;
}

function foldKeys(value: unknown, schema: z.ZodType): unknown {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodArray) return Array.isArray(value) ? value.map((v) => foldKeys(v, s.element as z.ZodType)) : value;
  if (!(s instanceof z.ZodObject) || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const shape = s.shape as Record<string, z.ZodType>;
  const byLower = new Map(Object.keys(shape).map((k) => [k.toLowerCase(), k]));
  const entries = Object.entries(value as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  // defineProperty: a key such as `__proto__` stays a plain key, as JSON.parse made it.
  const put = (k: string, v: unknown): void => void Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [key, v] of entries) {
    const name = Object.hasOwn(shape, key) ? key : byLower.get(key.toLowerCase());
    if (name === undefined) put(key, v);
    else if (name === key || !Object.hasOwn(value as object, name)) put(name, foldKeys(v, shape[name] as z.ZodType));
  }
  return out;
}

/**
 * @throws DockerApiError 400 `json: cannot unmarshal … (TaskTemplate.ContainerSpec.Command: expected array)`
 *   naming the first field whose JSON type is not the engine's
 */
export function checkSpecShape(body: unknown): void {
  const result = SwarmServiceSpecShape.safeParse(body);
  if (result.success) return;
  const issue = result.error.issues[0];
  const field = (issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  throw new DockerApiError(400, `json: cannot unmarshal the ServiceSpec: ${field || 'the body'}: ${issue?.message ?? 'invalid'}`);
}
