/**
 * Scheduling through the real control loop: the SQLite store (in memory), the ServiceController and one
 * Agent with a FakeDriver per node, in process. Spread, drain (start-first) and node loss, as the
 * controller does them with every node and the usage index it passes to planService.
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
import { isReady, parseServiceSpec } from '../src/model/index.js';
import type { Store } from '../src/store/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { storeAgentPorts } from '../src/app/store-agent-ports.js';
import { until } from './until.js';


describe('scheduling in the control loop (two nodes, fake driver)', () => {
  let store: Store;
  let agents: Agent[];
  let controller: ServiceController;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-sched-'));
    store = openSqliteStore(':memory:');
    agents = [];
    for (const name of ['node-1', 'node-2']) {
      // The fake driver runs image containers too (it makes no sandbox): the nodes say they have docker.
      store.upsertNode({ name, address: '127.0.0.1', drivers: ['fake', 'docker'], capacity: { cpus: 1, memoryBytes: 1024 ** 3 }, ready: true, heartbeatAt: new Date().toISOString() });
      const agent = new Agent({ node: name, driver: new FakeDriver(), ports: storeAgentPorts(store), dataDir: join(dataDir, name) });
      await agent.start();
      agents.push(agent);
    }
    controller = new ServiceController({ store, instanceRange: '127.21.0.0/24' });
    controller.start();
  });

  afterEach(async () => {
    await controller.stop();
    for (const a of agents) await a.stop();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const create = (input: Partial<ServiceSpecInput> & { name: string }) =>
    store.createService({ grid: 'default', spec: parseServiceSpec({ containers: [{ command: ['srv'] }], drainTimeout: '0s', ...input }), deploy: true });
  const meantToRun = (service: string): Instance[] => store.listInstances({ grid: 'default', service, active: true }).filter((i) => i.desiredState === 'running');
  const byNode = (list: readonly Instance[]): Record<string, number> => list.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.node]: (acc[i.node] ?? 0) + 1 }), {});

  it('spreads 4 replicas 2/2, drains one node start-first without dropping below 4 ready, and replaces a down node\'s instances', async () => {
    create({ name: 'web', replicas: 4 });
    await until('4 ready', () => meantToRun('web').filter(isReady).length === 4);
    assert.deepEqual(byNode(meantToRun('web')), { 'node-1': 2, 'node-2': 2 });

    let fewest = 4;
    const node2 = store.getNode('node-2');
    store.updateNode('node-2', { availability: 'drain' }, { ifVersion: node2?.version ?? 0 });
    await until('all on node-1', () => {
      fewest = Math.min(fewest, meantToRun('web').filter(isReady).length);
      const live = meantToRun('web');
      return live.length === 4 && live.every((i) => i.node === 'node-1' && isReady(i));
    });
    assert.equal(fewest, 4, 'a drain starts the replacement before it stops the old instance');
    await until('the drained instances ended', () => store.listInstances({ grid: 'default', service: 'web', node: 'node-2', active: true }).length === 0);

    store.updateNode('node-2', { availability: 'active' }, { ifVersion: store.getNode('node-2')?.version ?? 0 });
    store.updateNode('node-1', { ready: false }, { ifVersion: store.getNode('node-1')?.version ?? 0 });
    await until('4 ready on node-2', () => {
      const live = meantToRun('web');
      return live.length === 4 && live.every((i) => i.node === 'node-2' && isReady(i));
    });
    const fenced = store.listInstances({ grid: 'default', service: 'web', node: 'node-1' }).filter((i) => i.desiredState === 'shutdown');
    assert.ok(fenced.length >= 4, 'the down node\'s instances keep their records, desired state shutdown');
  });

  it('places a slot pending for want of resources as soon as another service\'s instance frees them', async () => {
    const image = (cpus: number) => [{ image: 'example/app:1', resources: { reservations: { cpus } } }];
    create({ name: 'big', replicas: 2, containers: image(1) });
    await until('big ready on both nodes', () => meantToRun('big').filter(isReady).length === 2);
    create({ name: 'small', replicas: 1, containers: image(0.5) });
    await until('small pending', () => /small-1 pending: no suitable node \(insufficient resources on 2 nodes\)/.test(store.getService('default', 'small')?.status.message ?? ''));
    assert.equal(meantToRun('small').length, 0);
    const big = store.getService('default', 'big');
    store.updateServiceIntent('default', 'big', { desired: 'stopped' }, { ifVersion: big?.version ?? 0 });
    await until('small ready', () => meantToRun('small').filter(isReady).length === 1);
  });

  it('publishes on its node the target port of a service port that no container declares (`--port http:80:8080`), so other nodes reach every instance', async () => {
    create({ name: 'web', replicas: 2, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] });
    await until('2 ready', () => meantToRun('web').filter(isReady).length === 2);
    for (const i of meantToRun('web')) {
      assert.deepEqual(i.spec.hostPorts?.map((p) => `${p.containerPort}/${p.protocol}`), ['8080/TCP', '53/UDP'], `${i.id} on ${i.node}`);
    }
  });

  it('removes a service whose instance was on a node removed with --force while its agent was stopped (its record goes with the service)', async () => {
    create({ name: 'web', replicas: 4 });
    await until('4 ready', () => meantToRun('web').filter(isReady).length === 4);
    await (agents[1] as Agent).stop();
    store.removeNode('node-2', { force: true });
    await until('4 ready on node-1', () => meantToRun('web').filter((i) => isReady(i) && i.node === 'node-1').length === 4);
    const svc = store.getService('default', 'web');
    store.updateServiceIntent('default', 'web', { desired: 'removing' }, { ifVersion: svc?.version ?? 0 });
    await until('web removed', () => store.getService('default', 'web') === undefined, 10_000);
    assert.deepEqual(store.listInstances({ grid: 'default', service: 'web' }), [], 'the removed node\'s instances are forgotten with it');
  });
});
