/**
 * A node whose image driver comes after start (a Docker engine found late, src/app/late-docker-engine.ts),
 * through the real control loop: the SQLite store (in memory), the ServiceController and an Agent on a
 * DriverRouter, in process. A deployed service with images waits for a node with the docker driver;
 * once the router has the driver, the controller the container range and the node record the driver,
 * it is placed, addressed on the container network and run by the new driver.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/index.js';
import { ServiceController } from '../src/controllers/index.js';
import type { ContainerHandle, SandboxConfig } from '../src/drivers/index.js';
import { DriverRouter, FakeDriver, SANDBOX_CONTAINER } from '../src/drivers/index.js';
import { isReady, parseServiceSpec } from '../src/model/index.js';
import type { Store } from '../src/store/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { storeAgentPorts } from '../src/app/store-agent-ports.js';
import { until } from './until.js';

/** The fake driver under the Docker driver's name, with sandboxes (a fake container each), remembering their DNS servers. */
class FakeDocker extends FakeDriver {
  readonly sandboxDns: (readonly string[])[] = [];

  async runSandbox(config: SandboxConfig): Promise<ContainerHandle> {
    this.sandboxDns.push(config.dns?.servers ?? []);
    const { instanceId, address } = config;
    return this.start({ instanceId, containerName: SANDBOX_CONTAINER, image: 'pause', argv: ['pause'], env: {}, workingDir: '/', address, stateDir: join(tmpdir(), 'unused'), log: { maxBytes: 1024, maxFiles: 1 } });
  }
}

const NODE = 'late-node';
const node = (drivers: string[]) => ({
  name: NODE,
  address: '127.0.0.1',
  drivers,
  ...(drivers.includes('docker') ? {} : { unavailableDrivers: { docker: 'no Docker engine answers at unix:///tmp/none.sock' } }),
  capacity: { cpus: 1, memoryBytes: 1024 ** 3 },
  ready: true,
  heartbeatAt: new Date().toISOString(),
});

describe('an image driver that comes after start', () => {
  let store: Store;
  let agent: Agent;
  let controller: ServiceController;
  let router: DriverRouter;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-late-driver-'));
    store = openSqliteStore(':memory:');
    store.upsertNode(node(['fake']));
    router = new DriverRouter(new FakeDriver(), undefined, 'no Docker engine answers at unix:///tmp/none.sock');
    agent = new Agent({ node: NODE, driver: router, ports: storeAgentPorts(store), dataDir });
    await agent.start();
    controller = new ServiceController({ store, instanceRange: '127.11.105.0/26' });
    controller.start();
  });

  afterEach(async () => {
    await controller.stop();
    await agent.stop();
    store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('places a waiting service with images once the node has the driver, on the container network, under the new driver', async () => {
    store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'app', containers: [{ name: 'app', image: 'busybox:local', command: ['srv'] }], replicas: 2, drainTimeout: '0s' }), deploy: true });
    await controller.idle();
    assert.deepEqual(store.listInstances({ grid: 'default', service: 'app' }), [], 'nothing placed while no node has the docker driver');
    assert.match(store.getService('default', 'app')?.status.message ?? '', /no docker driver/);
    assert.equal(router.drivers().unavailable.docker, 'no Docker engine answers at unix:///tmp/none.sock');

    // What lateDockerEngine does when the engine answers: driver, sandboxes' DNS, container range, node record.
    const docker = new FakeDocker({ name: 'docker' });
    router.addImageDriver(docker);
    agent.useContainerNetwork({ dnsServers: ['10.213.7.1'] });
    controller.addContainerRange({ cidr: '10.213.7.0/24', reserved: ['10.213.7.1'] });
    const drivers = router.drivers();
    assert.deepEqual([...drivers.available].sort(), ['docker', 'fake']);
    assert.deepEqual(drivers.unavailable, {});
    store.upsertNode(node([...drivers.available]));

    const ready = await until('2 ready instances', () => {
      const live = store.listInstances({ grid: 'default', service: 'app', active: true }).filter(isReady);
      return live.length === 2 ? live : undefined;
    });
    for (const i of ready) {
      assert.match(i.spec.address, /^10\.213\.7\.\d+$/, 'addressed on the container network');
      assert.notEqual(i.spec.address, '10.213.7.1', 'never the gateway');
      assert.deepEqual((i.status.handles ?? []).map((h) => (h as { driver: string }).driver), ['docker', 'docker'], 'its sandbox and its container run under the new driver');
    }
    assert.deepEqual(docker.sandboxDns, [['10.213.7.1'], ['10.213.7.1']], 'each sandbox asks berth\'s DNS on the gateway');
  });

  it('takes one image driver only', () => {
    router.addImageDriver(new FakeDocker({ name: 'docker' }));
    assert.throws(() => router.addImageDriver(new FakeDocker({ name: 'docker' })), /has a docker driver already/);
  });
});
