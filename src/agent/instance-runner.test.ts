import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeDriver } from '../drivers/index.js';
import type { Instance } from '../model/index.js';
import type { DataPlane } from './instance-drain.js';
import { TestServer, harness, httpProbe } from '../../test/runner-harness.js';
import { until } from '../../test/until.js';

void describe('InstanceRunner: probes', () => {
  const server = new TestServer();
  before(() => server.start());
  after(() => server.close());

  void it('reports a probed instance running but not ready, then ready once its readiness probe passes', async () => {
    server.set('/ready-1', 503, 'warming up');
    const h = harness({ command: ['srv'], ports: [{ name: 'http', containerPort: server.port }], readinessProbe: { ...httpProbe(server.port, '/ready-1'), httpGet: { path: '/ready-1', port: 'http' } } });
    await h.settle();
    const running = h.statuses.find((s) => s.state === 'running');
    assert.equal(running?.health?.ready, false, 'the first running status already says not ready');
    assert.equal(running?.health?.probes[0]?.target, `GET http://127.0.0.1:${server.port}/ready-1`);
    server.set('/ready-1', 200, 'ok');
    const ready = await until('instance.ready', () => h.events.find((e) => e.type === 'instance.ready'));
    assert.match(ready.message, /^web-1 ready \d+ ms after it started: readiness probe GET http:\/\/127\.0\.0\.1:\d+\/ready-1 passed$/);
    assert.equal(h.record().status.health?.ready, true);
    assert.equal(h.record().status.state, 'running');
    h.runner.detach();
  });

  void it('takes a ready instance out after failureThreshold failures and reports health only on transitions', async () => {
    const h = harness({ command: ['srv'], readinessProbe: httpProbe(server.port, '/ready-2', { failureThreshold: 2 }) });
    await h.settle();
    await until('ready', () => h.record().status.health?.ready);
    const reportsWhenReady = h.statuses.length;
    await new Promise((r) => setTimeout(r, 350)); // about 3 more passing periods
    assert.equal(h.statuses.length, reportsWhenReady, 'passing probes write nothing');
    server.set('/ready-2', 503, 'database gone');
    const unready = await until('instance.unready', () => h.events.find((e) => e.type === 'instance.unready'));
    assert.equal(unready.message, `web-1 not ready: readiness probe GET http://127.0.0.1:${server.port}/ready-2 failed 2 times: HTTP 503: database gone`);
    assert.equal(h.record().status.health?.ready, false);
    assert.equal(h.record().status.health?.probes[0]?.lastOutput, 'HTTP 503: database gone');
    server.set('/ready-2', 200);
    await until('ready again', () => h.record().status.health?.ready);
    h.runner.detach();
  });

  void it('stops an instance whose liveness probe fails and reports it failed with the probe and its output (on one line)', async () => {
    const h = harness({ command: ['srv'], stopGracePeriod: '1s', livenessProbe: httpProbe(server.port, '/live-3', { failureThreshold: 2 }) });
    await h.settle();
    // A body of several lines (an HTML error page): the messages carry it on one line, the event's data as it came.
    server.set('/live-3', 500, 'deadlock\r\nin worker 3');
    await until('a kick for the unhealthy instance', () => h.kicks() > 0);
    await h.settle();
    const end = h.record().status;
    assert.equal(end.state, 'failed');
    assert.equal(end.message, `liveness probe failed: GET http://127.0.0.1:${server.port}/live-3: HTTP 500: deadlock in worker 3`);
    assert.equal(end.exitCode, 143, 'stopped with its stop signal (SIGTERM)');
    assert.deepEqual(h.driver.callsOf('stop').map((c) => c.stop), [{ signal: 'SIGTERM', timeoutMs: 1000 }]);
    const unhealthy = h.events.find((e) => e.type === 'instance.unhealthy');
    assert.equal(unhealthy?.data?.output, 'HTTP 500: deadlock\r\nin worker 3');
    assert.match(unhealthy?.message ?? '', /^web-1 unhealthy: liveness probe GET .* failed 2 times: HTTP 500: deadlock in worker 3; stopping it$/);
    assert.ok(h.types().indexOf('instance.unhealthy') < h.types().indexOf('instance.exited'));
    assert.equal(end.health?.live, false, 'the failing probe stays in the final status');
  });

  void it('runs no probe once the instance is stopped, or has exited', async () => {
    for (const end of ['stop', 'crash'] as const) {
      const path = `/count-${end}`;
      const h = harness({ command: ['srv'], readinessProbe: httpProbe(server.port, path), livenessProbe: httpProbe(server.port, path) });
      await h.settle();
      await until('a few probes', () => server.requests > 3);
      if (end === 'stop') h.shutdown();
      else h.driver.crash(h.record().id, 1);
      await until('the runner woke', () => end === 'stop' || h.kicks() > 0);
      await h.settle();
      assert.ok(['shutdown', 'failed'].includes(h.record().status.state));
      const seen = server.requests;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(server.requests, seen, `no probe after the ${end}`);
    }
  });

  void it('runs exec probes through the driver, with the container environment and $(VAR) expanded', async () => {
    const driver = new FakeDriver();
    const calls: { argv: readonly string[]; env: Readonly<Record<string, string>>; workingDir: string }[] = [];
    driver.onExec((call) => {
      calls.push(call);
      return { exitCode: 1, output: 'pg: no response' };
    });
    const h = harness({ command: ['srv'], env: { DB: 'orders' }, workingDir: '/srv', readinessProbe: { exec: { command: ['pg_isready', '-d', '$(DB)'] }, periodSeconds: 0.1, failureThreshold: 1 } }, { driver });
    await h.settle();
    const unready = await until('instance.unready', () => h.events.find((e) => e.type === 'instance.unready'));
    assert.match(unready.message, /readiness probe exec pg_isready -d \$\(DB\) failed 1 time: exit 1: pg: no response$/);
    assert.deepEqual(calls[0]?.argv, ['pg_isready', '-d', 'orders']);
    assert.equal(calls[0]?.env.BERTH_INSTANCE, h.record().id);
    assert.equal(calls[0]?.workingDir, '/srv');
    h.runner.detach();
  });

  void it('keeps the readiness of a re-adopted instance: no new report while its probe keeps passing', async () => {
    const first = harness({ command: ['srv'], readinessProbe: httpProbe(server.port, '/adopt') });
    await first.settle();
    await until('ready', () => first.record().status.health?.ready);
    first.runner.detach(); // berth stops; the container runs on
    const second = harness({}, { driver: first.driver, record: first.record() });
    assert.equal(await second.runner.recover(), 'running');
    const seen = server.requests;
    await until('probing again', () => server.requests > seen + 2);
    assert.deepEqual(second.statuses, [], 'still ready as reported before: nothing to write');
    second.runner.detach();
  });
});

/** A data plane whose barrier and drain the test releases; records the order of calls. */
class FakeDataPlane implements DataPlane {
  readonly order: string[] = [];
  open = 0;
  private releaseRemoved: (() => void) | undefined;
  private releaseDrained: (() => void) | undefined;
  whenRemoved(_i: Instance, signal: AbortSignal): Promise<void> {
    this.order.push('whenRemoved');
    return new Promise((resolve, reject) => {
      this.releaseRemoved = resolve;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  connections(): number {
    return this.open;
  }
  whenDrained(_i: Instance, signal: AbortSignal): Promise<void> {
    this.order.push('whenDrained');
    return new Promise((resolve, reject) => {
      this.releaseDrained = resolve;
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  removed(): void {
    this.order.push('removed');
    this.releaseRemoved?.();
  }
  drained(): void {
    this.open = 0;
    this.order.push('drained');
    this.releaseDrained?.();
  }
}

void describe('InstanceRunner: drain before stop', () => {
  void it('reports draining, waits for the data plane barrier and then the connections, and only then sends the stop signal', async () => {
    const dp = new FakeDataPlane();
    const h = harness({ command: ['srv'] }, { dataPlane: dp });
    await h.settle();
    dp.open = 2;
    h.shutdown();
    const step = h.settle();
    await until('whenRemoved', () => dp.order.includes('whenRemoved'));
    assert.equal(h.types().at(-1), 'instance.draining');
    assert.equal(h.events.at(-1)?.message, 'web-1 draining: out of endpoints, 2 open connection(s)');
    assert.deepEqual(h.record().status.drain?.connections, 2);
    assert.equal(h.driver.callsOf('stop').length, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(dp.order, ['whenRemoved'], 'no connection wait before the barrier');
    dp.removed();
    await until('whenDrained', () => dp.order.includes('whenDrained'));
    assert.equal(h.driver.callsOf('stop').length, 0, 'no stop signal while connections are open');
    dp.drained();
    await step;
    assert.deepEqual(dp.order, ['whenRemoved', 'removed', 'whenDrained', 'drained']);
    assert.deepEqual(h.types().slice(-3), ['instance.draining', 'instance.drained', 'instance.stopped']);
    assert.match(h.events.find((e) => e.type === 'instance.drained')?.message ?? '', /^web-1 drained in \d+ ms$/);
    assert.equal(h.driver.callsOf('stop').length, 1);
    const end = h.record().status;
    assert.equal(end.state, 'shutdown');
    assert.equal(end.drain?.timedOut, false);
    assert.ok(end.drain?.endedAt);
  });

  void it('stops after drainTimeout with the connections still open, and says so', async () => {
    const dp = new FakeDataPlane();
    const h = harness({ command: ['srv'] }, { dataPlane: dp, drainTimeout: '200ms' });
    await h.settle();
    dp.open = 3;
    h.shutdown();
    const step = h.settle();
    await until('whenRemoved', () => dp.order.includes('whenRemoved'));
    dp.removed();
    const began = Date.now();
    await step;
    assert.ok(Date.now() - began < 1000);
    assert.equal(h.events.find((e) => e.type === 'instance.drained')?.message, 'web-1 drain timed out after 200ms with 3 open connection(s)');
    assert.equal(h.record().status.drain?.timedOut, true);
    assert.equal(h.record().status.state, 'shutdown');
  });

  void it('waits only for the barrier when the instance never was ready', async () => {
    const dp = new FakeDataPlane();
    const server = new TestServer();
    await server.start();
    server.set('/never', 503);
    try {
      const h = harness({ command: ['srv'], readinessProbe: httpProbe(server.port, '/never') }, { dataPlane: dp });
      await h.settle();
      h.shutdown();
      const step = h.settle();
      await until('whenRemoved', () => dp.order.includes('whenRemoved'));
      dp.removed();
      await step;
      assert.deepEqual(dp.order, ['whenRemoved', 'removed']);
      assert.equal(h.record().status.state, 'shutdown');
    } finally {
      server.close();
    }
  });

  void it('ends the drain when the instance exits meanwhile, and does not drain one that exits on its own', async () => {
    const dp = new FakeDataPlane();
    const h = harness({ command: ['srv'] }, { dataPlane: dp });
    await h.settle();
    h.shutdown();
    const step = h.settle();
    await until('whenRemoved', () => dp.order.includes('whenRemoved'));
    h.driver.crash(h.record().id, 1);
    await step;
    assert.equal(h.events.find((e) => e.type === 'instance.drained')?.message, 'web-1 exited while draining');
    assert.equal(h.record().status.state, 'shutdown');

    const dp2 = new FakeDataPlane();
    const crashing = harness({ command: ['srv'] }, { dataPlane: dp2 });
    await crashing.settle();
    crashing.driver.crash(crashing.record().id, 3);
    await until('a kick', () => crashing.kicks() > 0);
    await crashing.settle();
    assert.equal(crashing.record().status.state, 'failed');
    assert.deepEqual(dp2.order, [], 'an exit on its own is not drained');
  });
});
