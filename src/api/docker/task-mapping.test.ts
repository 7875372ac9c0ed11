import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Instance, InstanceState, InstanceStatus } from '../../model/index.js';
import { INSTANCE_STATES, parseServiceSpec } from '../../model/index.js';
import { nodeIdOf, taskIdOf } from './swarm-ids.js';
import {
  SWARM_TASK_STATES,
  TASK_STATE_OF,
  containerIdOf,
  containerStatusOf,
  taskDesiredStateOf,
  taskErrOf,
  taskName,
  taskOf,
  taskSpecOf,
  taskStateOf,
  taskTimestampOf,
} from './task-mapping.js';

const CREATED = '2026-03-01T12:00:00.000Z';

function status(overrides: Partial<InstanceStatus> = {}): InstanceStatus {
  return { state: 'running', timestamp: '2026-03-01T12:00:09.000Z', message: 'running', startedAt: '2026-03-01T12:00:02.000Z', ...overrides };
}

/** A whole instance as the store returns it (one fixture factory: valid by default). */
function instance(overrides: Partial<Instance> = {}): Instance {
  const spec = parseServiceSpec({
    name: 'web',
    containers: [
      {
        image: 'nginx:latest',
        command: ['nginx'],
        args: ['-g', 'daemon off;'],
        env: [{ name: 'A', value: '1' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'db', key: 'token' } } }],
        labels: { tier: 'front' },
        workingDir: '/srv',
        user: 'www-data',
        hostname: 'web-host',
        mounts: [{ type: 'tmpfs', target: '/tmp/cache', tmpfsSize: 1024 * 1024 }],
        resources: { limits: { cpus: 0.5, memory: 64 * 1024 * 1024 }, reservations: { cpus: 0.25 } },
        stopSignal: 'SIGQUIT',
        stopGracePeriod: '1m30s',
      },
    ],
  });
  return {
    id: 'web-1-a1b2c3',
    grid: 'default',
    service: 'web',
    serviceId: 'svc0123456789',
    slot: 1,
    node: 'node-1',
    generation: 2,
    restartGeneration: 3,
    restarts: 0,
    version: 42,
    createdAt: CREATED,
    spec: { containers: spec.containers, address: '10.250.0.7', restartPolicy: { condition: 'on-failure', delay: '5s', maxAttempts: 3, window: '2m' }, env: { BERTH_SLOT: '1' } },
    desiredState: 'running',
    status: status(),
    ...overrides,
  };
}

const DOCKER_HANDLES = [
  { driver: 'docker', id: 'f'.repeat(64), name: 'web-1-a1b2c3.sandbox.owner1' },
  { driver: 'docker', id: 'c'.repeat(64), name: 'web-1-a1b2c3.web.owner1' },
];

describe('task mapping: states', () => {
  it('maps every berth instance state onto a Swarm task state, in the same order', () => {
    assert.deepEqual(TASK_STATE_OF, {
      new: 'assigned',
      pending: 'preparing',
      starting: 'starting',
      running: 'running',
      complete: 'complete',
      failed: 'failed',
      shutdown: 'shutdown',
      rejected: 'rejected',
    });
    // The CLI's progress bar ranks states by Swarm's order: berth's forward moves must stay forward there.
    const rank = (s: InstanceState): number => SWARM_TASK_STATES.indexOf(TASK_STATE_OF[s]);
    const live = INSTANCE_STATES.slice(0, 4);
    for (let k = 1; k < live.length; k++) assert.ok(rank(live[k] as InstanceState) > rank(live[k - 1] as InstanceState), `${live[k]} after ${live[k - 1]}`);
    for (const terminal of INSTANCE_STATES.slice(4)) assert.ok(rank(terminal) > rank('running'), `${terminal} is past running`);
  });

  it('shows a probed instance as starting until its probes first pass, then running even when it later turns unready', () => {
    const probes = { started: true, live: true, probes: [] };
    assert.equal(taskStateOf(status({ health: { ...probes, ready: false } })), 'starting');
    assert.equal(taskStateOf(status({ health: { ...probes, ready: true, readySince: '2026-03-01T12:00:04.000Z' } })), 'running');
    assert.equal(taskStateOf(status({ health: { ...probes, ready: false, readySince: '2026-03-01T12:00:04.000Z' } })), 'running');
    assert.equal(taskStateOf(status()), 'running', 'no probes: running as soon as it runs');
    assert.equal(taskStateOf(status({ state: 'pending' })), 'preparing');
  });

  it('says shutdown for the desired state of an ended instance whose slot a newer one took, as Swarm’s restart supervisor does', () => {
    const failed = instance({ status: status({ state: 'failed', exitCode: 1, message: 'exited with code 1' }) });
    assert.equal(taskDesiredStateOf(failed, true), 'shutdown');
    assert.equal(taskDesiredStateOf(failed, false), 'running', 'nobody replaced it (restart condition none): still desired running, as Swarm');
    assert.equal(taskDesiredStateOf(instance(), true), 'running', 'a running instance keeps its own desired state (start-first rollouts)');
    assert.equal(taskDesiredStateOf(instance({ desiredState: 'shutdown' }), false), 'shutdown');
  });

  it('sets Err only for failed and rejected tasks, with Swarm’s words for a plain non-zero exit', () => {
    assert.equal(taskErrOf(status({ state: 'failed', exitCode: 137, signal: 'SIGKILL', message: 'exited with code 137 (SIGKILL)' })), 'task: non-zero exit (137)');
    assert.equal(taskErrOf(status({ state: 'failed', exitCode: 143, message: 'liveness probe failed: GET http://x/health: HTTP 500' })), 'liveness probe failed: GET http://x/health: HTTP 500');
    assert.equal(taskErrOf(status({ state: 'rejected', message: 'container web: No such image: nope:latest' })), 'container web: No such image: nope:latest');
    for (const state of ['new', 'pending', 'starting', 'running', 'complete', 'shutdown'] as const) assert.equal(taskErrOf(status({ state, message: 'x' })), undefined, state);
  });

  it('dates a state from when it was entered: the start, the readiness, the finish, else the last status write', () => {
    assert.equal(taskTimestampOf(status()), '2026-03-01T12:00:02.000Z');
    assert.equal(taskTimestampOf(status({ health: { started: true, live: true, ready: true, readySince: '2026-03-01T12:00:04.000Z', probes: [] } })), '2026-03-01T12:00:04.000Z');
    assert.equal(taskTimestampOf(status({ state: 'failed', finishedAt: '2026-03-01T12:00:07.000Z' })), '2026-03-01T12:00:07.000Z');
    assert.equal(taskTimestampOf(status({ state: 'pending', startedAt: undefined })), '2026-03-01T12:00:09.000Z');
  });
});

describe('task mapping: container status', () => {
  it('takes the main container’s engine id from the Docker handles, never the sandbox’s', () => {
    const i = instance({ status: status({ handles: DOCKER_HANDLES }) });
    assert.equal(containerIdOf(i), 'c'.repeat(64));
    assert.equal(containerIdOf(instance({ status: status({ handles: [DOCKER_HANDLES[0]] }) })), undefined);
    assert.equal(containerIdOf(instance({ status: status({ handles: [{ driver: 'process', pid: 12 }] }) })), undefined);
  });

  it('gives a running process instance’s pid, and an ended one’s exit code (zeros omitted as moby’s omitempty)', () => {
    const running = instance({ status: status({ containers: [{ name: 'web', state: 'running', pid: 4242 }] }) });
    assert.deepEqual(containerStatusOf(running), { PID: 4242 });
    const failed = instance({ status: status({ state: 'failed', exitCode: 3, containers: [{ name: 'web', state: 'running', pid: 4242 }], handles: DOCKER_HANDLES }) });
    assert.deepEqual(containerStatusOf(failed), { ContainerID: 'c'.repeat(64), ExitCode: 3 });
    assert.deepEqual(containerStatusOf(instance({ status: status({ state: 'complete', exitCode: 0 }) })), {});
  });
});

describe('task mapping: the task', () => {
  it('fills every field of a replicated service’s task', () => {
    const i = instance({ status: status({ handles: DOCKER_HANDLES, containers: [{ name: 'web', state: 'running', pid: 99 }] }) });
    const task = taskOf(i, { superseded: false, global: false, network: { id: 'n'.repeat(25), name: 'berth', prefixLength: 16 } });
    assert.deepEqual({ ...task, Spec: undefined }, {
      ID: taskIdOf('web-1-a1b2c3'),
      Version: { Index: 42 },
      CreatedAt: CREATED,
      UpdatedAt: '2026-03-01T12:00:09.000Z',
      Labels: {},
      Spec: undefined,
      ServiceID: 'svc0123456789',
      Slot: 1,
      NodeID: nodeIdOf('node-1'),
      Status: {
        Timestamp: '2026-03-01T12:00:02.000Z',
        State: 'running',
        Message: 'running',
        ContainerStatus: { ContainerID: 'c'.repeat(64), PID: 99 },
        PortStatus: {},
      },
      DesiredState: 'running',
      NetworksAttachments: [{ Network: { ID: 'n'.repeat(25), Spec: { Name: 'berth', Labels: {} } }, Addresses: ['10.250.0.7/16'] }],
    });
    assert.equal(JSON.parse(JSON.stringify(task)).Spec.ContainerSpec.Image, 'nginx:latest', 'the task survives JSON as it is');
  });

  it('leaves the slot out in global mode and names the task by node, as swarmkit’s naming.Task', () => {
    const task = taskOf(instance(), { superseded: false, global: true });
    assert.equal('Slot' in task, false);
    assert.equal('NetworksAttachments' in task, false, 'no network known: no attachment');
    assert.equal(taskName('web', instance(), true), `web.${nodeIdOf('node-1')}.${taskIdOf('web-1-a1b2c3')}`);
    assert.equal(taskName('web', instance(), false), `web.1.${taskIdOf('web-1-a1b2c3')}`);
  });

  it('carries a failed, replaced instance as a Shutdown-desired, Failed task with its error', () => {
    const i = instance({ status: status({ state: 'failed', exitCode: 2, message: 'exited with code 2', finishedAt: '2026-03-01T12:00:05.000Z' }) });
    const task = taskOf(i, { superseded: true, global: false });
    assert.equal(task.DesiredState, 'shutdown');
    assert.equal(task.Status.State, 'failed');
    assert.equal(task.Status.Err, 'task: non-zero exit (2)');
    assert.equal(task.Status.Timestamp, '2026-03-01T12:00:05.000Z');
    assert.deepEqual(task.Status.ContainerStatus, { ExitCode: 2 });
  });

  it('maps the TaskTemplate the instance carries through the services’ mapping: ContainerSpec, Resources, RestartPolicy (ns), ForceUpdate', () => {
    assert.deepEqual(taskSpecOf(instance()), {
      ContainerSpec: {
        Image: 'nginx:latest',
        Labels: { tier: 'front' },
        Command: ['nginx'],
        Args: ['-g', 'daemon off;'],
        Hostname: 'web-host',
        Env: ['A=1'], // a secret's value never leaves the node
        Dir: '/srv',
        User: 'www-data',
        StopSignal: 'SIGQUIT',
        Mounts: [{ Type: 'tmpfs', Target: '/tmp/cache', TmpfsOptions: { SizeBytes: 1024 * 1024 } }],
        StopGracePeriod: 90e9,
      },
      Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 * 1024 * 1024 }, Reservations: { NanoCPUs: 2.5e8 } },
      RestartPolicy: { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3, Window: 120e9 },
      ForceUpdate: 3,
      Runtime: 'container',
    });
  });

  it('shows the service’s TaskTemplate of the instance’s generation when the route has it, with the instance’s ForceUpdate', () => {
    const template = { ContainerSpec: { Image: 'nginx:1.25' }, Placement: { Constraints: ['node.role==manager'] }, ForceUpdate: 0, Runtime: 'container' };
    const task = taskOf(instance(), { superseded: false, global: false, template });
    assert.deepEqual(task.Spec, { ...template, ForceUpdate: 3 });
  });

  it('gives a process container an empty Image, as the services’ mapping does', () => {
    const spec = parseServiceSpec({ name: 'web', containers: [{ command: ['node', 'server.js'] }] });
    const i = instance({ spec: { ...instance().spec, containers: spec.containers } });
    const container = taskSpecOf(i).ContainerSpec ?? {};
    assert.equal(container.Image, '');
    assert.deepEqual(container.Command, ['node', 'server.js']);
    assert.equal(container.StopGracePeriod, 10e9, 'Swarm’s default grace, 10 s');
  });
});
