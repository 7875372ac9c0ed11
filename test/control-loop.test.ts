/**
 * The control loop and the agent together, in process: the real SQLite store (in memory), the real
 * ServiceController and Agent, and the FakeDriver. Fast and deterministic; the e2e tests do the same
 * with real processes.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/index.js';
import { ServiceController } from '../src/controllers/index.js';
import { FakeDriver } from '../src/drivers/index.js';
import type { Instance, ServiceSpecInput } from '../src/model/index.js';
import { parseServiceSpec } from '../src/model/index.js';
import type { Store } from '../src/store/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { storeAgentPorts } from '../src/app/store-agent-ports.js';
import { until } from './until.js';

const NODE = 'node-1';


describe('control loop with the fake driver', () => {
  let store: Store;
  let driver: FakeDriver;
  let agent: Agent;
  let controller: ServiceController;
  let dataDir: string;

  const startAgent = async (): Promise<Agent> => {
    const a = new Agent({ node: NODE, driver, ports: storeAgentPorts(store), dataDir });
    await a.start();
    return a;
  };

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-loop-'));
    store = openSqliteStore(':memory:');
    store.upsertNode({ name: NODE, address: '127.0.0.1', drivers: ['fake'], ready: true, heartbeatAt: new Date().toISOString() });
    driver = new FakeDriver();
    agent = await startAgent();
    controller = new ServiceController({ store, instanceRange: '127.20.0.0/24' });
    controller.start();
  });

  afterEach(async () => {
    await controller.stop();
    await agent.stop();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const create = (input: Partial<ServiceSpecInput> & { name: string }) =>
    store.createService({ grid: 'default', spec: parseServiceSpec({ containers: [{ command: ['srv'] }], ...input }), deploy: true });
  const live = (service: string): Instance[] => store.listInstances({ grid: 'default', service, active: true });
  const runningSlots = (service: string): number[] => live(service).filter((i) => i.status.state === 'running').map((i) => i.slot).sort((a, b) => a - b);

  it('deploys every slot and reports the service running', async () => {
    create({ name: 'web', replicas: 3 });
    await until('3 running', () => runningSlots('web').length === 3);
    await until('phase running', () => store.getService('default', 'web')?.status.phase === 'running');
    assert.equal(driver.callsOf('start').length, 3);
    assert.deepEqual(new Set(live('web').map((i) => i.spec.address)).size, 3);
  });

  it('replaces a crashed instance in the same slot and records the exit code', async () => {
    create({ name: 'web', replicas: 2, restartPolicy: { delay: '0s' } });
    await until('2 running', () => runningSlots('web').length === 2);
    const victim = live('web').find((i) => i.slot === 2) as Instance;
    driver.crash(victim.id, 137);
    const replacement = await until('new slot-2 instance', () => live('web').find((i) => i.slot === 2 && i.id !== victim.id && i.status.state === 'running'));
    assert.equal(replacement.restarts, 1);
    assert.equal(store.getInstance(victim.id)?.status.exitCode, 137);
    const events = store.listEvents({ grid: 'default', service: 'web' });
    assert.ok(events.some((e) => e.type === 'instance.exited' && e.instance === victim.id && e.data?.exitCode === 137));
  });

  it('keeps restarting a container that cannot start, with a growing back-off', async () => {
    driver.setDefaults({ startError: 'exec: nope: No such file or directory' });
    create({ name: 'bad', restartPolicy: { delay: '20ms' } });
    await until('three rejected attempts', () => store.listInstances({ grid: 'default', service: 'bad' }).filter((i) => i.status.state === 'rejected').length >= 3);
    const attempts = store.listInstances({ grid: 'default', service: 'bad' }).sort((a, b) => a.restarts - b.restarts);
    assert.deepEqual(attempts.slice(0, 3).map((i) => i.restarts), [0, 1, 2]);
    assert.match(attempts[0]?.status.message ?? '', /No such file/);
    assert.match(store.getService('default', 'bad')?.status.message ?? '', /could not start/);
  });

  it('escalates to SIGKILL after the grace period when the stop signal is ignored', async () => {
    driver.setDefaults({ ignoreStopSignal: true });
    create({ name: 'stubborn', containers: [{ command: ['srv'], stopSignal: 'SIGINT', stopGracePeriod: '50ms' }] });
    await until('running', () => runningSlots('stubborn').length === 1);
    const [inst] = live('stubborn');
    store.updateServiceIntent('default', 'stubborn', { desired: 'stopped' });
    await until('shutdown', () => store.getInstance(inst?.id ?? '')?.status.state === 'shutdown');
    const stop = driver.callsOf('stop')[0];
    assert.equal(stop?.stop?.signal, 'SIGINT');
    assert.equal(stop?.stop?.timeoutMs, 50);
    assert.equal(store.getInstance(inst?.id ?? '')?.status.exitCode, 137);
    assert.equal(store.getService('default', 'stubborn')?.status.phase, 'stopped');
  });

  it('stops the sibling containers when one container of an instance exits', async () => {
    create({ name: 'pod', restartPolicy: { condition: 'none' }, containers: [{ name: 'app', command: ['a'] }, { name: 'sidecar', command: ['b'] }] });
    await until('running', () => runningSlots('pod').length === 1);
    const [inst] = live('pod');
    driver.crash(inst?.id ?? '', 3, 'app');
    const ended = await until('failed', () => {
      const i = store.getInstance(inst?.id ?? '');
      return i?.status.state === 'failed' ? i : undefined;
    });
    assert.equal(ended.status.exitCode, 3);
    assert.match(ended.status.message, /container app exited with code 3/);
    assert.ok(driver.callsOf('stop').some((c) => c.containerName === 'sidecar'));
  });

  it('a new agent re-adopts running instances without starting them again', async () => {
    create({ name: 'web', replicas: 2 });
    await until('2 running', () => runningSlots('web').length === 2);
    await agent.stop();
    const before = live('web').map((i) => i.id).sort();
    agent = await startAgent();
    await until('adopted events', () => store.listEvents({ grid: 'default', service: 'web' }).filter((e) => e.type === 'instance.adopted').length === 2);
    assert.equal(driver.callsOf('start').length, 2, 'no container was started twice');
    assert.deepEqual(live('web').map((i) => i.id).sort(), before);
  });

  it('converges 100 replicas and scales them down to 10, highest slots first', async () => {
    create({ name: 'many', replicas: 100 });
    await until('100 running', () => runningSlots('many').length === 100, 20_000);
    store.updateServiceIntent('default', 'many', { spec: parseServiceSpec({ name: 'many', replicas: 10, containers: [{ command: ['srv'] }] }), deploy: true });
    await until('10 running', () => live('many').length === 10, 20_000);
    assert.deepEqual(runningSlots('many'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
