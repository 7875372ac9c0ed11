import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service, ServiceSpec, ServiceSpecInput } from '../../model/index.js';
import { parseServiceSpec } from '../../model/index.js';
import { DockerApiError } from './docker-errors.js';
import type { FaceNetwork } from './service-mapping.js';
import { berthToSwarmService, berthToSwarmSpec, swarmToBerthSpec } from './service-mapping.js';
import type { SwarmServiceSpec } from './swarm-types.js';

const NETWORK: FaceNetwork = { id: '6fc651026a106e01a1f99b177', name: 'berth' };
const MiB = 1024 * 1024;

/** What the store would hold for a spec sent through the face (berth's parse, as the service operations run it). */
function stored(swarm: SwarmServiceSpec, current?: ServiceSpec): ServiceSpec {
  return parseServiceSpec(swarmToBerthSpec(swarm, { networks: [NETWORK], ...(current ? { current } : {}) }));
}

/** Sent through the face, stored, shown again. */
function roundTrip(swarm: SwarmServiceSpec): SwarmServiceSpec {
  return berthToSwarmSpec(stored(swarm));
}

/** Asserts a 400 (or `status`) whose message names `field`. */
function refused(swarm: SwarmServiceSpec, field: string, status = 400): void {
  assert.throws(
    () => swarmToBerthSpec(swarm, { networks: [NETWORK] }),
    (error: unknown) => {
      assert.ok(error instanceof DockerApiError, String(error));
      assert.equal(error.status, status, error.message);
      assert.ok(error.message.includes(field), `"${error.message}" names ${field}`);
      return true;
    },
  );
}

function minimal(extra: Partial<SwarmServiceSpec> = {}, container: Record<string, unknown> = {}, task: Record<string, unknown> = {}): SwarmServiceSpec {
  return { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Command: ['sh', '-c', 'sleep 1000'], ...container }, ...task }, ...extra };
}

/** Every supported field set, in the form the engine shows it (zero values left out). */
const FULL: SwarmServiceSpec = {
  Name: 'web',
  Labels: { tier: 'front', 'com.example/owner': 'team-a' },
  TaskTemplate: {
    ContainerSpec: {
      Image: 'nginx:latest',
      Labels: { 'com.example.role': 'web' },
      Command: ['nginx'],
      Args: ['-g', 'daemon off;'],
      Hostname: 'web-host',
      Env: ['A=1', 'B=two words', 'EMPTY='],
      Dir: '/srv',
      User: 'nobody',
      StopSignal: 'SIGQUIT',
      Mounts: [
        { Type: 'volume', Source: 'data', Target: '/data' },
        { Type: 'bind', Source: '/tmp', Target: '/host-tmp', ReadOnly: true },
        { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 64 * MiB } },
      ],
      StopGracePeriod: 15_000_000_000,
      Healthcheck: { Test: ['CMD-SHELL', 'wget -q -O- http://localhost/'], Interval: 2_000_000_000, Timeout: 1_500_000_000, StartPeriod: 3_000_000_000, Retries: 4 },
    },
    Resources: { Limits: { NanoCPUs: 1_500_000_000, MemoryBytes: 256 * MiB }, Reservations: { NanoCPUs: 250_000_000, MemoryBytes: 64 * MiB } },
    RestartPolicy: { Condition: 'on-failure', Delay: 2_500_000_000, MaxAttempts: 3, Window: 60_000_000_000 },
    Placement: { Constraints: ['node.role==manager'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 5, Platforms: [{ Architecture: 'amd64', OS: 'linux' }] },
    ForceUpdate: 0,
    Runtime: 'container',
  },
  Mode: { Replicated: { Replicas: 3 } },
  UpdateConfig: { Parallelism: 2, Delay: 1_000_000_000, FailureAction: 'rollback', Monitor: 10_000_000_000, MaxFailureRatio: 0.25, Order: 'start-first' },
  RollbackConfig: { Parallelism: 0, Delay: 500_000_000, FailureAction: 'continue', Monitor: 2_000_000_000, MaxFailureRatio: 0, Order: 'stop-first' },
  EndpointSpec: {
    Mode: 'vip',
    Ports: [
      { Name: 'http', Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 0, PublishMode: 'ingress' },
    ],
  },
};

describe('Docker face: ServiceSpec → berth → ServiceSpec', () => {
  it('gives back every supported field as it was sent', () => {
    assert.deepEqual(roundTrip(FULL), FULL);
  });

  it('maps the fields to berth\'s spec, durations from nanoseconds and CPUs from NanoCPUs', () => {
    const spec = stored(FULL);
    const c = spec.containers[0];
    assert.equal(spec.replicas, 3);
    assert.equal(c?.image, 'nginx:latest');
    assert.deepEqual(c?.command, ['nginx']);
    assert.deepEqual(c?.args, ['-g', 'daemon off;']);
    assert.equal(c?.workingDir, '/srv');
    assert.equal(c?.stopGracePeriod, '15s');
    assert.deepEqual(c?.resources, { limits: { cpus: 1.5, memory: 256 * MiB }, reservations: { cpus: 0.25, memory: 64 * MiB } });
    assert.deepEqual(spec.restartPolicy, { condition: 'on-failure', delay: '2500ms', maxAttempts: 3, window: '60s' });
    assert.equal(spec.updateConfig.delay, '1s');
    assert.equal(spec.rollbackConfig.delay, '500ms');
    assert.equal(c?.readinessProbe?.periodSeconds, 2, 'the healthcheck is stored as the probes it stands for');
    assert.equal(c?.readinessProbe?.timeoutSeconds, 1.5);
    assert.equal(c?.livenessProbe?.initialDelaySeconds, 3, 'StartPeriod delays the liveness probe');
    assert.deepEqual(
      spec.ports.map((p) => [p.name, p.protocol, p.port, p.targetPort, p.published]),
      [['http', 'TCP', 80, 80, 8080], ['udp-53', 'UDP', 53, 53, undefined]],
      'the virtual IP serves TargetPort; several ports get names',
    );
    assert.equal(spec.type, 'NodePort', 'PublishedPort 0: a node port chosen from 30000–32767, as Swarm');
    assert.deepEqual(spec.placement?.constraints, ['node.role==manager']);
  });

  it('keeps global mode, dnsrr and a healthcheck in exec form', () => {
    const swarm = minimal({ Mode: { Global: {} }, EndpointSpec: { Mode: 'dnsrr' } }, { Healthcheck: { Test: ['CMD', 'true'], Interval: 5_000_000_000, Timeout: 1_000_000_000, Retries: 2 } });
    const shown = roundTrip(swarm);
    assert.deepEqual(shown.Mode, { Global: {} });
    assert.deepEqual(shown.EndpointSpec, { Mode: 'dnsrr' });
    assert.deepEqual(shown.TaskTemplate?.ContainerSpec?.Healthcheck, { Test: ['CMD', 'true'], Interval: 5_000_000_000, Timeout: 1_000_000_000, Retries: 2 });
    assert.equal(stored(swarm).clusterIP, 'None', 'dnsrr is a headless service');
  });

  it('refuses dnsrr with a port published in ingress mode, as swarmkit does, and takes one in host mode', () => {
    refused(minimal({ EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] } }), "EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    refused(minimal({ EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] } }), 'ingress mode');
    const host = stored(minimal({ EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] } }));
    assert.equal(host.clusterIP, 'None');
    assert.equal(host.ports[0]?.published, 8080);
  });

  it('fills in Swarm\'s server defaults for what a docker-py spec leaves out', () => {
    const shown = roundTrip(minimal());
    assert.deepEqual(shown.TaskTemplate?.ContainerSpec, { Image: 'busybox:local', Command: ['sh', '-c', 'sleep 1000'], StopSignal: 'SIGTERM', StopGracePeriod: 10_000_000_000 });
    assert.deepEqual(shown.TaskTemplate?.RestartPolicy, { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0, Window: 0 });
    const swarmDefault = { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5_000_000_000, MaxFailureRatio: 0, Order: 'stop-first' };
    assert.deepEqual(shown.UpdateConfig, swarmDefault);
    assert.deepEqual(shown.RollbackConfig, swarmDefault);
    assert.deepEqual(shown.Mode, { Replicated: { Replicas: 1 } });
    assert.deepEqual(shown.EndpointSpec, { Mode: 'vip' });
    assert.equal(shown.TaskTemplate?.Placement, undefined);
    assert.equal(shown.TaskTemplate?.Resources, undefined);
  });

  it('reads Go zero values inside a given UpdateConfig as Swarm does: parallelism 0 = all, "" = pause / stop-first, Monitor 0 = 5 s', () => {
    // docker-py's UpdateConfig(parallelism=0, failure_action='continue') sends only these keys.
    const spec = stored(minimal({ UpdateConfig: { Parallelism: 0, FailureAction: 'continue' } }));
    assert.deepEqual(spec.updateConfig, { parallelism: 0, delay: '0s', failureAction: 'continue', monitor: '5s', maxFailureRatio: 0, order: 'stop-first' });
    const restart = stored(minimal({}, {}, { RestartPolicy: { Condition: '' } })).restartPolicy;
    assert.deepEqual(restart, { condition: 'any', delay: '5s', maxAttempts: 0, window: '0s' });
  });

  it('accepts the zero values the docker CLI always sends, and the face\'s own network', () => {
    const cli = minimal(
      { EndpointSpec: { Mode: 'vip' } },
      { Init: false, DNSConfig: {}, Isolation: 'default', TTY: false, Privileges: { CredentialSpec: null, SELinuxContext: null } },
      { Resources: { Limits: {}, Reservations: {} }, Placement: {}, Networks: [{ Target: 'berth' }, { Target: NETWORK.id.slice(0, 12) }], LogDriver: { Name: 'json-file' } },
    );
    const shown = roundTrip(cli);
    assert.equal(shown.TaskTemplate?.Resources, undefined, 'no resources: none shown');
    assert.equal(shown.TaskTemplate?.Networks, undefined, 'every service is on the face\'s network: not stored');
  });

  it('keeps durations to the millisecond and refuses finer or negative ones, naming the field', () => {
    assert.equal(stored(minimal({}, { StopGracePeriod: 90_000_000_000 })).containers[0]?.stopGracePeriod, '90s');
    assert.equal(stored(minimal({}, { StopGracePeriod: 1_500_000_000 })).containers[0]?.stopGracePeriod, '1500ms');
    refused(minimal({}, { StopGracePeriod: 1_500_001 }), 'TaskTemplate.ContainerSpec.StopGracePeriod');
    refused(minimal({}, {}, { RestartPolicy: { Delay: -1_000_000 } }), 'TaskTemplate.RestartPolicy.Delay');
    refused(minimal({ UpdateConfig: { Delay: 1 } }), 'UpdateConfig.Delay');
  });

  it('refuses with 400 naming the field what ignoring would surprise', () => {
    refused(minimal({}, { Secrets: [{ SecretID: 'x', SecretName: 'db' }] }), 'TaskTemplate.ContainerSpec.Secrets');
    refused(minimal({}, { Configs: [{ ConfigID: 'x', ConfigName: 'c' }] }), 'TaskTemplate.ContainerSpec.Configs');
    refused(minimal({}, { Privileges: { NoNewPrivileges: true } }), 'TaskTemplate.ContainerSpec.Privileges');
    refused(minimal({}, { Isolation: 'hyperv' }), 'TaskTemplate.ContainerSpec.Isolation');
    refused(minimal({}, { CapabilityAdd: ['NET_ADMIN'] }), 'TaskTemplate.ContainerSpec.CapabilityAdd');
    refused(minimal({}, { ReadOnly: true }), 'TaskTemplate.ContainerSpec.ReadOnly');
    refused(minimal({ Mode: { ReplicatedJob: { TotalCompletions: 3 } } }), 'Mode.ReplicatedJob');
    refused(minimal({ Mode: { GlobalJob: {} } }), 'Mode.GlobalJob');
    refused(minimal({ Mode: { Global: {}, Replicated: { Replicas: 2 } } }), 'cannot specify both replicated mode and global mode');
    refused(minimal({ EndpointSpec: { Ports: [{ Protocol: 'sctp', TargetPort: 9 }] } }), 'EndpointSpec.Ports[0].Protocol');
    refused(minimal({ EndpointSpec: { Mode: 'round-robin' } }), 'EndpointSpec.Mode');
    refused(minimal({}, {}, { LogDriver: { Name: 'syslog' } }), 'TaskTemplate.LogDriver.Name');
    refused(minimal({}, {}, { Resources: { Limits: { Pids: 100 } } }), 'TaskTemplate.Resources.Limits.Pids');
    refused(minimal({}, { Mounts: [{ Type: 'npipe', Source: 'x', Target: '/x' }] }), 'TaskTemplate.ContainerSpec.Mounts[0].Type');
    refused(minimal({}, { Mounts: [{ Type: 'volume', Source: 'x', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'nfs' } } }] }), 'Mounts[0].VolumeOptions.DriverConfig.Name');
    refused(minimal({}, { Image: '' }), 'TaskTemplate.ContainerSpec.Image');
    refused({ Name: 'web', TaskTemplate: {} }, 'TaskTemplate.ContainerSpec');
    refused(minimal({}, {}, { Runtime: 'plugin' }), 'TaskTemplate.Runtime');
    refused(minimal({}, {}, { Networks: [{ Target: 'berth', Aliases: ['db'] }] }), 'TaskTemplate.Networks[0].Aliases');
    refused(minimal({}, {}, { Networks: [{ Target: 'my-overlay' }] }), 'network my-overlay not found', 404);
    refused(minimal({ Networks: [{ Target: 'ingress' }] }), 'network ingress not found', 404);
  });

  it('refuses JSON of the wrong type as the engine\'s decoder does, naming the field', () => {
    refused(minimal({}, { Command: 'echo hi' }), 'TaskTemplate.ContainerSpec.Command');
    refused(minimal({}, {}, { Placement: { Constraints: 'node.role==manager' } }), 'TaskTemplate.Placement.Constraints');
    refused(minimal({ Labels: { a: 1 } as unknown as Record<string, string> }), 'Labels.a');
    refused(minimal({ EndpointSpec: { Ports: [{ TargetPort: '80' as unknown as number }] } }), 'EndpointSpec.Ports[0].TargetPort');
    refused([] as unknown as SwarmServiceSpec, 'the body');
  });

  it('leaves berth\'s own checks to berth: an invalid name or image reference is refused when parsed', () => {
    assert.throws(() => stored(minimal({ Name: 'Web_1' })), /spec\.name/);
  });
});

/** A spec made with berth's own API, with what a Swarm spec cannot say. */
const BERTH_MADE: ServiceSpecInput = {
  name: 'api',
  labels: { app: 'api' },
  replicas: 2,
  stateful: true,
  drainTimeout: '20s',
  containers: [
    {
      name: 'main',
      image: 'node:local',
      imagePullPolicy: 'Never',
      command: ['node', 'server.js'],
      env: [{ name: 'PLAIN', value: 'x' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }],
      ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { httpGet: { port: 'http', path: '/ready' } },
      startupProbe: { tcpSocket: { port: 8080 } },
    },
    { name: 'sidecar', image: 'busybox:local', command: ['sleep', '1000'] },
  ],
  ports: [
    { name: 'web', port: 80, targetPort: 'http', published: 8088 },
    { name: 'metrics', port: 9100, targetPort: 9100 },
  ],
  updateConfig: { parallelism: 1, minHealth: 0.5, monitor: '0s' },
};

describe('Docker face: a berth-made service through the face', () => {
  it('is shown with its first container and its published port, without berth-only fields (ports on the virtual IP only, stateful, probes…)', () => {
    const spec = parseServiceSpec(BERTH_MADE);
    const shown = berthToSwarmSpec(spec, 2);
    assert.deepEqual(shown.TaskTemplate?.ContainerSpec, { Image: 'node:local', Command: ['node', 'server.js'], Env: ['PLAIN=x'], StopSignal: 'SIGTERM', StopGracePeriod: 10_000_000_000 });
    assert.deepEqual(shown.EndpointSpec, { Mode: 'vip', Ports: [{ Name: 'web', Protocol: 'tcp', TargetPort: 8080, PublishedPort: 8088, PublishMode: 'ingress' }] });
    assert.equal(shown.TaskTemplate?.ForceUpdate, 2, 'ForceUpdate is the deployment\'s restart generation');
    assert.equal(shown.UpdateConfig?.Monitor, 0);
  });

  it('comes back unchanged when the face\'s view is sent back as it is (what `docker service update` with no flag does)', () => {
    const spec = parseServiceSpec(BERTH_MADE);
    assert.deepEqual(stored(berthToSwarmSpec(spec), spec), spec);
  });

  it('keeps a node port, the virtual-IP port and a named target of a NodePort service across an update through the face', () => {
    const spec = parseServiceSpec({
      name: 'np',
      type: 'NodePort',
      containers: [{ image: 'nginx:latest', ports: [{ name: 'http', containerPort: 8080 }] }],
      ports: [{ name: 'web', port: 80, targetPort: 'http', nodePort: 30080 }],
    });
    const view = berthToSwarmSpec(spec);
    assert.deepEqual(view.EndpointSpec?.Ports, [{ Name: 'web', Protocol: 'tcp', TargetPort: 8080, PublishedPort: 0, PublishMode: 'ingress' }]);
    assert.deepEqual(stored(view, spec), spec);
  });

  it('changes only what an edit of the view says (--env-add, --replicas)', () => {
    const spec = parseServiceSpec(BERTH_MADE);
    const view = berthToSwarmSpec(spec);
    const edited: SwarmServiceSpec = {
      ...view,
      Mode: { Replicated: { Replicas: 4 } },
      TaskTemplate: { ...view.TaskTemplate, ContainerSpec: { ...view.TaskTemplate?.ContainerSpec, Env: ['PLAIN=x', 'A=1'] } },
    };
    const after = stored(edited, spec);
    assert.equal(after.replicas, 4);
    assert.deepEqual(after.containers[0]?.env, [{ name: 'PLAIN', value: 'x' }, { name: 'A', value: '1' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }]);
    assert.deepEqual({ ...after, replicas: 2, containers: spec.containers }, spec, 'nothing else moved');
  });

  it('drops probes that were a healthcheck when the update sends none, and keeps others', () => {
    const withHc = stored(minimal({}, { Healthcheck: { Test: ['CMD', 'true'] } }));
    const view = berthToSwarmSpec(withHc);
    const noHc: SwarmServiceSpec = { ...view, TaskTemplate: { ...view.TaskTemplate, ContainerSpec: { ...view.TaskTemplate?.ContainerSpec, Healthcheck: null } } };
    assert.equal(stored(noHc, withHc).containers[0]?.readinessProbe, undefined);
    const none = stored(minimal({}, { Healthcheck: { Test: ['NONE'] } }));
    assert.equal(none.containers[0]?.livenessProbe, undefined, '["NONE"]: no probes');
  });

  it('refuses to describe a service without containers', () => {
    const external = parseServiceSpec({ name: 'db', type: 'ExternalName', externalName: 'db.example.org', containers: [] });
    assert.throws(() => swarmToBerthSpec(minimal({ Name: 'db' }), { networks: [NETWORK], current: external }), /runs no containers/);
  });
});

describe('Docker face: berth service → Swarm Service', () => {
  const spec = parseServiceSpec({ name: 'web', clusterIP: '127.96.0.7', type: 'NodePort', containers: [{ image: 'nginx:latest' }], ports: [{ name: 'main', port: 80, nodePort: 30001 }, { name: 'alt', port: 81, published: 8081 }] });
  const base: Service = {
    id: '5f0c8a1e-0000-4000-8000-000000000001',
    grid: 'default',
    name: 'web',
    version: 42,
    generation: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-02T00:00:00.000Z',
    spec,
    deployment: { generation: 3, spec, requestedAt: '2026-01-02T00:00:00.000Z', restartGeneration: 1 },
    desired: 'running',
    status: { phase: 'running', desiredInstances: 1, runningInstances: 1, observedGeneration: 3, message: '', updatedAt: '2026-01-02T00:00:01.000Z' },
  };
  const options = { network: NETWORK, vipPrefixLength: 16 };

  it('shows ID, Version.Index, times, the published ports and the virtual IP', () => {
    const s = berthToSwarmService(base, options);
    assert.equal(s.ID, base.id);
    assert.deepEqual(s.Version, { Index: 42 });
    assert.equal(s.CreatedAt, base.createdAt);
    assert.equal(s.UpdatedAt, base.updatedAt);
    assert.deepEqual(s.Endpoint.Ports, [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 30001, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 81, PublishedPort: 8081, PublishMode: 'ingress' },
    ]);
    assert.deepEqual(s.Endpoint.VirtualIPs, [{ NetworkID: NETWORK.id, Addr: '127.96.0.7/16' }]);
    assert.equal(s.Spec.TaskTemplate?.ForceUpdate, 1);
    assert.equal(s.UpdateStatus, undefined);
    assert.equal(s.ServiceStatus, undefined);
  });

  it('shows the rollout of the current deployment as UpdateStatus, not the first one nor an older one', () => {
    const update = { state: 'updating' as const, generation: 3, requestedAt: base.deployment!.requestedAt, fromGeneration: 2, startedAt: '2026-01-02T00:00:00.500Z', message: 'updating to generation 3', failedInstances: [], updatedInstances: 0, totalInstances: 1 };
    const current = berthToSwarmService({ ...base, status: { ...base.status, update } }, options);
    assert.deepEqual(current.UpdateStatus, { State: 'updating', StartedAt: update.startedAt, Message: 'update in progress' });
    // swarmkit's words for the steady states (the CLI prints them); a pause keeps berth's, which says why.
    const withState = (state: 'completed' | 'paused' | 'rollback_started' | 'rollback_completed', cause?: 'rollback' | 'auto-rollback') =>
      berthToSwarmService({ ...base, deployment: { ...base.deployment!, ...(cause ? { cause } : {}) }, status: { ...base.status, update: { ...update, state, message: 'berth says why' } } }, options).UpdateStatus?.Message;
    assert.equal(withState('completed'), 'update completed');
    assert.equal(withState('paused'), 'berth says why');
    assert.equal(withState('rollback_started', 'rollback'), 'manually requested rollback');
    assert.equal(withState('rollback_started', 'auto-rollback'), 'berth says why');
    assert.equal(withState('rollback_completed', 'rollback'), 'rollback completed');
    const first = berthToSwarmService({ ...base, status: { ...base.status, update: { ...update, fromGeneration: undefined } } }, options);
    assert.equal(first.UpdateStatus, undefined, 'Swarm shows none after create');
    const older = berthToSwarmService({ ...base, status: { ...base.status, update: { ...update, state: 'completed', requestedAt: '2026-01-01T00:00:00.000Z' } } }, options);
    assert.equal(older.UpdateStatus, undefined, 'a completed rollout of the previous deployment would end the CLI\'s progress display at once');
  });

  it('adds ServiceStatus with status=true: running tasks and replicas (0 when stopped)', () => {
    assert.deepEqual(berthToSwarmService(base, { ...options, status: true }).ServiceStatus, { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 0 });
    assert.deepEqual(berthToSwarmService({ ...base, desired: 'stopped' }, { ...options, status: true }).ServiceStatus, { RunningTasks: 1, DesiredTasks: 0, CompletedTasks: 0 });
  });

  it('shows PreviousSpec when there is one', () => {
    const previous = parseServiceSpec({ name: 'web', containers: [{ image: 'nginx:1.25' }] });
    assert.equal(berthToSwarmService(base, { ...options, previousSpec: previous }).PreviousSpec?.TaskTemplate?.ContainerSpec?.Image, 'nginx:1.25');
  });
});
