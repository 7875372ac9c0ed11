/**
 * The controller out of instance addresses (the API refuses deploys that cannot fit, so this is the
 * passing shortage — e.g. a service written straight to the store, or instances still draining): the
 * service says so once, in its status and one event, instead of an error in the log on every retry,
 * and gets its instances when addresses are freed.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/index.js';
import { ServiceController } from '../src/controllers/index.js';
import { FakeDriver } from '../src/drivers/index.js';
import type { Logger } from '../src/lib/index.js';
import { parseServiceSpec } from '../src/model/index.js';
import type { Store } from '../src/store/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { storeAgentPorts } from '../src/app/store-agent-ports.js';
import { until } from './until.js';


describe('the controller out of instance addresses', () => {
  let store: Store;
  let agent: Agent;
  let controller: ServiceController;
  let dataDir: string;
  const errors: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (_f, msg) => errors.push(msg), child: () => logger };

  beforeEach(async () => {
    errors.length = 0;
    dataDir = mkdtempSync(join(tmpdir(), 'berth-addr-'));
    store = openSqliteStore(':memory:');
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['fake'], ready: true, heartbeatAt: new Date().toISOString() });
    agent = new Agent({ node: 'node-1', driver: new FakeDriver(), ports: storeAgentPorts(store), dataDir });
    await agent.start();
    // A /29: six addresses.
    controller = new ServiceController({ store, instanceRange: '127.21.0.0/29', logger });
    controller.start();
  });
  afterEach(async () => {
    await controller.stop();
    await agent.stop();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const create = (name: string, replicas: number) => store.createService({ grid: 'default', spec: parseServiceSpec({ name, replicas, containers: [{ command: ['srv'] }] }), deploy: true });
  const running = (name: string) => store.listInstances({ grid: 'default', service: name, active: true }).filter((i) => i.status.state === 'running').length;

  it('says it waits, once, logs no error, and starts the instances once addresses are free', async () => {
    create('a', 6);
    await until('a runs 6', () => running('a') === 6, 10_000);
    create('b', 2);
    const waiting = await until('b waits', () => {
      const s = store.getService('default', 'b');
      return s?.status.message.includes('waiting for 2 instance address(es)') ? s : undefined;
    }, 10_000);
    assert.match(waiting.status.message, /no free address left in range 127\.21\.0\.0\/29/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(errors, [], 'no error logged for the shortage');
    assert.equal(store.listEvents({ grid: 'default', service: 'b' }).filter((e) => e.type === 'service.address_wait').length, 1, 'one event');
    assert.equal(store.listInstances({ grid: 'default', service: 'b' }).length, 0);

    const a = store.getService('default', 'a');
    store.updateServiceIntent('default', 'a', { spec: { ...(a?.spec as NonNullable<typeof a>['spec']), replicas: 4 }, deploy: true });
    await until('b runs 2', () => running('b') === 2, 10_000);
    assert.deepEqual(errors, []);
  });
});
