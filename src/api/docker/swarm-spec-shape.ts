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
const resources = obj({ NanoCPUs: num, MemoryBytes: num, Pids: num, GenericResources: any });
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
            TmpfsOptions: obj({ SizeBytes: num, Mode: num }),
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
