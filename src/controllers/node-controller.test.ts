import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ManualClock } from '../lib/index.js';
import type { NodeRegistration } from '../model/index.js';
import { MemoryNodeLiveness, openSqliteStore, recordHeartbeat } from '../store/index.js';
import { newInstance } from '../api/testing/fixtures.js';
import { NodeController } from './node-controller.js';

const T0 = Date.parse('2026-12-05T00:00:00Z');
const reg = (name: string, extra: Partial<NodeRegistration> = {}): NodeRegistration => ({ name, address: '10.0.0.1', drivers: ['process'], ready: true, heartbeatAt: '', ...extra });

function setup() {
  const store = openSqliteStore(':memory:');
  const clock = new ManualClock(T0);
  const liveness = new MemoryNodeLiveness();
  const controller = new NodeController({ store, liveness, clock, graceMs: 10_000 });
  return { store, clock, liveness, controller, beat: (name: string, extra: Partial<NodeRegistration> = {}) => recordHeartbeat(store, liveness, reg(name, extra), clock.now()) };
}

describe('node controller and heartbeats', () => {
  it('marks a node down once its heartbeats stopped for the grace, with an event on each service there; a beat brings it back', async () => {
    const { store, clock, controller, beat } = setup();
    controller.start();
    controller.stop(); // checks are driven by hand below
    beat('a');
    beat('b');
    store.applyControllerWrites({ createInstances: [newInstance({ node: 'a', slot: 1 }), newInstance({ node: 'a', slot: 2, service: 'api' })] });
    await clock.advance(2_000);
    beat('a'); // a quiet beat: no record write
    await clock.advance(7_000);
    beat('b');
    assert.deepEqual(controller.check(), [], 'within the grace nothing is down');
    await clock.advance(3_500);
    assert.deepEqual(controller.check(), ['a'], '10.5 s after its last beat, a is down; b beat 3.5 s ago');
    assert.equal(store.getNode('a')?.ready, false);
    assert.equal(store.getNode('a')?.heartbeatAt, new Date(T0 + 2_000).toISOString(), "the down record says when a was last heard of (node show's 'Down (last heartbeat …)')");
    assert.equal(store.getNode('b')?.ready, true);
    const down = store.listEvents({ grid: 'default', service: 'web' }).filter((e) => e.type === 'node.down');
    assert.equal(down.length, 1);
    assert.match(down[0]?.message ?? '', /node a is down \(no heartbeat for 10\.5s\); its 1 instance/);
    assert.equal(store.listEvents({ grid: 'default', service: 'api' }).filter((e) => e.type === 'node.down').length, 1);
    assert.deepEqual(controller.check(), [], 'a node already down is not marked again');

    await clock.advance(1_000);
    beat('a');
    assert.equal(store.getNode('a')?.ready, true, 'the next beat makes it ready again');
    assert.equal(store.listEvents({ grid: 'default', service: 'web' }).filter((e) => e.type === 'node.ready').length, 1);
  });

  it('gives every node a full grace after the controller starts (beats sent while it was down do not count)', async () => {
    const { store, clock, controller, beat } = setup();
    beat('a');
    await clock.advance(60_000); // the server was down for a minute; the node's last beat is old
    controller.start();
    controller.stop();
    assert.deepEqual(controller.check(), []);
    await clock.advance(10_001);
    assert.deepEqual(controller.check(), ['a']);
    assert.equal(store.getNode('a')?.ready, false);
  });

  it('writes the node record only when it is new, comes back or its facts change: quiet heartbeats write nothing', async () => {
    const { store, clock, beat } = setup();
    beat('a');
    const revision = store.revision();
    for (let i = 0; i < 20; i++) {
      await clock.advance(3_000);
      beat('a');
    }
    assert.equal(store.revision(), revision, '20 heartbeats, no write');
    beat('a', { drivers: ['process', 'docker'] });
    assert.equal(store.revision(), revision + 1, 'a changed fact is written');
    assert.deepEqual(store.getNode('a')?.drivers, ['process', 'docker']);
  });

  it('a heartbeat landing between the check and the write wins (compare-and-set)', async () => {
    const { store, clock, controller, beat } = setup();
    controller.start();
    controller.stop();
    beat('a');
    await clock.advance(11_000);
    // The agent re-registers with new facts right before the controller writes: the version moved.
    const stale = store.getNode('a');
    beat('a', { address: '10.0.0.9' });
    assert.notEqual(store.getNode('a')?.version, stale?.version);
    assert.deepEqual(controller.check(), [], 'the beat renewed the liveness too');
    assert.equal(store.getNode('a')?.ready, true);
  });

  it('a check that comes late because this server was stalled marks nobody down: the heartbeats it had not read yet count', async () => {
    const store = openSqliteStore(':memory:');
    const liveness = new MemoryNodeLiveness();
    const controller = new NodeController({ store, liveness, graceMs: 300, checkEveryMs: 50 });
    const beat = (name: string): void => void recordHeartbeat(store, liveness, reg(name), Date.now());
    beat('a');
    beat('b');
    // a's heartbeats come over a socket, as agents' requests do.
    const server = createServer((socket) => socket.on('data', () => beat('a')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<void>((resolve) => server.once('connection', () => resolve()));
    const agent = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await Promise.all([accepted, new Promise((r) => agent.once('connect', r))]);
    const markedDown: string[] = [];
    store.watch(store.revision(), (e) => {
      if (e.kind === 'node' && e.op === 'put' && !e.object.ready) markedDown.push(e.object.name);
    });
    controller.start();
    try {
      await new Promise((r) => setTimeout(r, 60));
      beat('b');
      agent.write('beat');
      await new Promise((r) => setTimeout(r, 20));
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          // a beats again just as the server stalls for twice the grace: its request waits in the socket,
          // read only after the timers that fell due meanwhile (the node check among them).
          agent.write('beat');
          const until = Date.now() + 600;
          while (Date.now() < until);
          resolve();
        }),
      );
      // From here a keeps beating; b stays silent until the next check on time marks it down.
      const keep = setInterval(() => beat('a'), 50);
      for (let i = 0; i < 100 && !markedDown.includes('b'); i++) await new Promise((r) => setTimeout(r, 20));
      clearInterval(keep);
      assert.deepEqual(markedDown, ['b'], 'a beat during the stall and was never marked down; b is silent, and the next check on time marks it down');
      assert.equal(store.getNode('a')?.ready, true);
    } finally {
      controller.stop();
      agent.destroy();
      server.close();
      store.close();
    }
  });
});
