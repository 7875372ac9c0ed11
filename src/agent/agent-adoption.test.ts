import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ContainerHandle, Driver } from '../drivers/index.js';
import { FakeDriver } from '../drivers/index.js';
import type { Disposable } from '../lib/index.js';
import type { Instance, InstanceState, InstanceStatus, NewServiceEvent } from '../model/index.js';
import { instance, spec } from '../../test/fixtures.js';
import type { AgentPorts } from './agent.js';
import type { RunningContainer } from './container-start.js';
import { Agent } from './agent.js';
import { readHandleFile, writeHandleFile } from './instance-files.js';
import { until } from '../../test/until.js';

/*
 * Crash safety of the agent (issue #9 §2): berth can die between any two of "start the container",
 * "write its handle file" and "report it running". The next agent must adopt every container the
 * driver recorded, start again only what never ran, and kill what no live instance claims.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'berth-adoption-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** The store, played in memory: reported statuses replace the instance's, and watchers hear of it. */
class MemoryPorts implements AgentPorts {
  readonly instances = new Map<string, Instance>();
  readonly events: NewServiceEvent[] = [];
  private readonly listeners = new Set<(i: Instance, op: 'put' | 'delete') => void>();

  constructor(instances: readonly Instance[]) {
    for (const i of instances) this.instances.set(i.id, i);
  }

  listInstances(node: string): readonly Instance[] {
    return [...this.instances.values()].filter((i) => i.node === node);
  }

  watchInstances(_node: string, listener: (i: Instance, op: 'put' | 'delete') => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  reportStatuses(updates: readonly { id: string; status: InstanceStatus }[], events: readonly NewServiceEvent[]): void {
    this.events.push(...events);
    for (const { id, status } of updates) {
      const current = this.instances.get(id);
      if (!current) continue;
      const next = { ...current, status, version: current.version + 1 };
      this.instances.set(id, next);
      for (const l of this.listeners) l(next, 'put');
    }
  }

  state(id: string): InstanceState | undefined {
    return this.instances.get(id)?.status.state;
  }
}


/** A container of `inst` started by "an earlier berth" through `driver` (the fixture's container is named web). */
function startFor(driver: Driver, inst: Instance): Promise<ContainerHandle> {
  return driver.start({ instanceId: inst.id, containerName: 'web', argv: ['srv'], env: {}, workingDir: dataDir, address: inst.spec.address, stateDir: join(dataDir, inst.id), log: { maxBytes: 1024, maxFiles: 1 } });
}

/** The same driver without `list`: one that can only be recovered from handle files. */
function withoutList(driver: FakeDriver): Driver {
  return {
    name: driver.name,
    start: (c) => driver.start(c),
    recover: (h) => driver.recover(h),
    wait: (h, s) => driver.wait(h, s),
    stop: (h, o) => driver.stop(h, o),
    destroy: (h) => driver.destroy(h),
    stats: (h) => driver.stats(h),
    logs: (h, o) => driver.logs(h, o),
  };
}

/** The handle file's record, as startContainers writes it. */
function held(name: string, handle: ContainerHandle): RunningContainer {
  return { name, handle, startedAt: new Date().toISOString() };
}

async function startAgent(driver: Driver, ports: MemoryPorts): Promise<Agent> {
  const agent = new Agent({ node: 'node-1', driver, ports, dataDir });
  await agent.start();
  return agent;
}

void describe('Agent: adoption after a crash', () => {
  void it('adopts a container the store never heard of (still pending, no handle file) instead of starting a second one', async () => {
    const driver = new FakeDriver();
    const inst = instance({ state: 'pending' });
    const handle = await startFor(driver, inst);
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(driver, ports);
    try {
      await until('running', () => ports.state(inst.id) === 'running', 3_000);
      assert.equal(driver.callsOf('start').length, 1, 'started once, by the earlier berth only');
      assert.deepEqual(ports.instances.get(inst.id)?.status.handles, [handle]);
      assert.deepEqual(readHandleFile<{ handle: ContainerHandle }>(dataDir, inst.id, 'web')?.handle, handle, 'its handle file is written now');
      assert.ok(ports.events.some((e) => e.type === 'instance.adopted' && e.instance === inst.id));
    } finally {
      await agent.stop();
    }
  });

  void it('does not start again an instance recorded as starting whose container and handle file exist, even with a driver that cannot list', async () => {
    const driver = new FakeDriver();
    const inst = instance({ state: 'starting' });
    const handle = await startFor(driver, inst);
    await writeHandleFile(dataDir, inst.id, held('web', handle));
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(withoutList(driver), ports);
    try {
      await until('running', () => ports.state(inst.id) === 'running', 3_000);
      assert.equal(driver.callsOf('start').length, 1, 'no second copy of the instance');
      assert.equal(driver.running().length, 1);
    } finally {
      await agent.stop();
    }
  });

  void it('starts an instance recorded as starting that the driver has no record of (the start never ran)', async () => {
    const driver = new FakeDriver();
    const inst = instance({ state: 'starting' });
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(driver, ports);
    try {
      await until('running', () => ports.state(inst.id) === 'running', 3_000);
      assert.equal(driver.callsOf('start').length, 1);
    } finally {
      await agent.stop();
    }
  });

  void it('still counts a starting instance with no handle file as lost when the driver cannot list', async () => {
    const driver = new FakeDriver();
    const inst = instance({ state: 'starting' });
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(withoutList(driver), ports);
    try {
      const status = await until('failed', () => (ports.state(inst.id) === 'failed' ? ports.instances.get(inst.id)?.status : undefined), 3_000);
      assert.equal(status.exitCode, 255);
      assert.equal(driver.callsOf('start').length, 0);
    } finally {
      await agent.stop();
    }
  });

  void it('kills and forgets the containers of instances that ended or are gone', async () => {
    const driver = new FakeDriver();
    const ended = instance({ state: 'failed', exitCode: 255 });
    const gone = instance({ state: 'running' });
    await startFor(driver, ended);
    await startFor(driver, gone);
    const ports = new MemoryPorts([ended]);
    const agent = await startAgent(driver, ports);
    try {
      assert.equal(driver.running().length, 0, 'nothing runs that no live instance claims');
      assert.deepEqual((await driver.list()).length, 0, 'and the driver forgot them');
      assert.deepEqual(driver.callsOf('destroy').map((c) => c.instanceId).sort(), [ended.id, gone.id].sort());
    } finally {
      await agent.stop();
    }
  });

  void it('keeps the copy its handle file names when the driver runs an instance twice, and kills the other', async () => {
    const driver = new FakeDriver();
    const inst = instance({ state: 'running' });
    const first = await startFor(driver, inst);
    const second = await startFor(driver, inst);
    await writeHandleFile(dataDir, inst.id, held('web', second));
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(driver, ports);
    try {
      assert.deepEqual(driver.running(), [second]);
      assert.ok(driver.callsOf('destroy').some((c) => c.instanceId === inst.id), 'the first copy was destroyed');
      assert.equal((await driver.recover(first)).state, 'exited');
    } finally {
      await agent.stop();
    }
  });

  void it('stops a container it adopted for an instance asked to shut down while the store still says pending', async () => {
    const driver = new FakeDriver();
    const inst = { ...instance({ state: 'pending' }), desiredState: 'shutdown' as const, desiredReason: 'scaled down' };
    await startFor(driver, inst);
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(driver, ports);
    try {
      await until('shutdown', () => ports.state(inst.id) === 'shutdown', 3_000);
      assert.equal(driver.running().length, 0, 'the container was stopped, not left running');
      assert.ok(driver.callsOf('stop').some((c) => c.instanceId === inst.id));
    } finally {
      await agent.stop();
    }
  });
});

void describe('Agent: deleted instance records', () => {
  void it('destroys the containers of an instance whose record is deleted before its runner finished (a removed service), so none is left behind', async () => {
    const driver = new FakeDriver();
    const inst = instance({ state: 'new' });
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(driver, ports);
    try {
      await until('running', () => ports.state(inst.id) === 'running', 3_000);
      const { handles } = ports.instances.get(inst.id)?.status ?? {};
      assert.equal(handles?.length, 1);
      // The store deletes the record while the runner still holds the instance (no stop step ran yet).
      ports.instances.delete(inst.id);
      for (const l of (ports as unknown as { listeners: Set<(i: Instance, op: 'put' | 'delete') => void> }).listeners) l(inst, 'delete');
      await until('destroyed', () => driver.callsOf('destroy').length === 1, 3_000);
      assert.equal(driver.running().length, 0, 'the container is gone, not left running untracked');
    } finally {
      await agent.stop();
    }
  });

  void it('removes every container of an ended instance even when its record is deleted while the removal runs', async () => {
    /** A driver whose removals take 100 ms each (a busy engine). */
    class SlowRemovals extends FakeDriver {
      override async destroy(h: ContainerHandle): Promise<void> {
        this.removing++;
        await new Promise((r) => setTimeout(r, 100));
        await super.destroy(h);
      }
      removing = 0;
    }
    const driver = new SlowRemovals();
    const base = instance({ state: 'new' });
    const inst: Instance = { ...base, spec: { ...base.spec, containers: spec({ containers: [{ name: 'web', command: ['srv'] }, { name: 'side', command: ['helper'] }] }).containers } };
    const ports = new MemoryPorts([inst]);
    const agent = await startAgent(driver, ports);
    try {
      await until('running', () => ports.state(inst.id) === 'running', 3_000);
      driver.crash(inst.id, 1, 'web');
      await until('the first removal under way', () => driver.removing === 1, 3_000);
      // The controller deletes the ended instance's record meanwhile (its service was removed).
      ports.instances.delete(inst.id);
      for (const l of (ports as unknown as { listeners: Set<(i: Instance, op: 'put' | 'delete') => void> }).listeners) l(inst, 'delete');
      await until('both removed', () => driver.callsOf('destroy').length === 2, 5000);
      assert.deepEqual(driver.callsOf('destroy').map((c) => c.containerName).sort(), ['side', 'web']);
    } finally {
      await agent.stop();
    }
  });
});
