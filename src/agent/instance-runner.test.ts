import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeDriver } from '../drivers/index.js';
import { silentLogger, systemClock } from '../lib/index.js';
import type { Instance, InstanceStatus, NewServiceEvent, ServiceSpecInput } from '../model/index.js';

type ContainerSpecInput = NonNullable<ServiceSpecInput['containers']>[number];
import { instance, spec } from '../../test/fixtures.js';
import type { DataPlane } from './instance-drain.js';
import type { RunnerContext } from './runner-context.js';
import { InstanceRunner } from './instance-runner.js';

/** An HTTP server whose answers the test sets per path; counts requests. */
class TestServer {
  port = 0;
  requests = 0;
  readonly answers = new Map<string, { status: number; body: string }>();
  private readonly server = createServer((req, res) => {
    this.requests++;
    const a = this.answers.get(req.url ?? '/') ?? { status: 200, body: 'ok' };
    res.writeHead(a.status).end(a.body);
  });
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  set(path: string, status: number, body = ''): void {
    this.answers.set(path, { status, body });
  }
  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'berth-runner-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * One runner with the store played in memory: every report becomes the instance's new status (and a
 * new version), as the agent's round trip through the store would; `events` and `statuses` keep all.
 */
function harness(container: ContainerSpecInput, options: { dataPlane?: DataPlane; driver?: FakeDriver; record?: Instance; drainTimeout?: string; instanceUser?: string; containers?: ContainerSpecInput[]; stateful?: boolean } = {}) {
  const driver = options.driver ?? new FakeDriver();
  const base = instance({ state: 'new' });
  let record: Instance = options.record ?? {
    ...base,
    spec: {
      ...base.spec,
      address: '127.0.0.1',
      containers: spec({ containers: options.containers ?? [container] }).containers,
      ...(options.drainTimeout ? { drainTimeout: options.drainTimeout } : {}),
      ...(options.stateful ? { dataDir: `volumes/default/web/${base.id}` } : {}),
    },
  };
  const statuses: InstanceStatus[] = [];
  const events: NewServiceEvent[] = [];
  let kicks = 0;
  const self: { runner?: InstanceRunner } = {};
  const ctx: RunnerContext = {
    driver,
    node: 'node-1',
    dataDir,
    hostEnv: {},
    log: { maxBytes: 1 << 20, maxFiles: 1 },
    logger: silentLogger,
    now: () => Date.now(),
    clock: systemClock,
    ...(options.dataPlane ? { dataPlane: options.dataPlane } : {}),
    ...(options.instanceUser ? { instanceUser: options.instanceUser } : {}),
    report: (_id, status, evs) => {
      statuses.push(status);
      events.push(...evs);
      record = { ...record, status, version: record.version + 1 };
      self.runner?.update(record);
    },
  };
  const r = new InstanceRunner(record, ctx, () => kicks++);
  self.runner = r;
  return {
    driver,
    runner: r,
    statuses,
    events,
    kicks: () => kicks,
    record: () => record,
    /** Steps until the runner has nothing to do (at most 20 steps). */
    async settle(): Promise<void> {
      for (let i = 0; i < 20; i++) {
        const result = await r.step();
        if (result === 'noop' || result === 'done') return;
      }
      throw new Error('the runner did not settle in 20 steps');
    },
    shutdown(): void {
      record = { ...record, desiredState: 'shutdown', desiredReason: 'scaled down', version: record.version + 1 };
      r.update(record);
    },
    types: () => events.map((e) => e.type),
  };
}

const httpProbe = (port: number, path: string, extra: Record<string, unknown> = {}) => ({ httpGet: { path, port }, periodSeconds: 0.1, timeoutSeconds: 0.5, ...extra });

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

  void it('stops an instance whose liveness probe fails and reports it failed with the probe and its output', async () => {
    const h = harness({ command: ['srv'], stopGracePeriod: '1s', livenessProbe: httpProbe(server.port, '/live-3', { failureThreshold: 2 }) });
    await h.settle();
    server.set('/live-3', 500, 'deadlock in worker 3');
    await until('a kick for the unhealthy instance', () => h.kicks() > 0);
    await h.settle();
    const end = h.record().status;
    assert.equal(end.state, 'failed');
    assert.equal(end.message, `liveness probe failed: GET http://127.0.0.1:${server.port}/live-3: HTTP 500: deadlock in worker 3`);
    assert.equal(end.exitCode, 143, 'stopped with its stop signal (SIGTERM)');
    assert.deepEqual(h.driver.callsOf('stop').map((c) => c.stop), [{ signal: 'SIGTERM', timeoutMs: 1000 }]);
    const unhealthy = h.events.find((e) => e.type === 'instance.unhealthy');
    assert.equal(unhealthy?.data?.output, 'HTTP 500: deadlock in worker 3');
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

/** A FakeDriver that notes, at each stop, how many statuses had been reported by then. */
class StopOrderDriver extends FakeDriver {
  readonly stopsAfterReports: number[] = [];
  reports = (): number => 0;
  override stop(h: Parameters<FakeDriver['stop']>[0], options: Parameters<FakeDriver['stop']>[1]): ReturnType<FakeDriver['stop']> {
    this.stopsAfterReports.push(this.reports());
    return super.stop(h, options);
  }
}

void describe('InstanceRunner: a container that exits', () => {
  void it('takes the instance out of the endpoints before it stops the other containers, then reports it failed', async () => {
    const driver = new StopOrderDriver();
    const h = harness({ command: ['x'] }, { driver, containers: [{ name: 'app', command: ['srv'] }, { name: 'side', command: ['helper'] }] });
    driver.reports = () => h.statuses.length;
    await h.settle();
    assert.equal(h.record().status.state, 'running');
    const before = h.statuses.length;
    driver.crash(h.record().id, 3, 'app');
    await until('a kick', () => h.kicks() > 0);
    await h.settle();
    const after = h.statuses.slice(before);
    assert.equal(after[0]?.state, 'running', 'first: still running (the side container is)…');
    assert.equal(after[0]?.health?.ready, false, '…but not ready: the proxy and DNS drop it now');
    assert.match(after[0]?.message ?? '', /container app exited with code 3; stopping the instance/);
    assert.equal(after.at(-1)?.state, 'failed');
    assert.deepEqual(driver.stopsAfterReports, [before + 1], 'the side container was stopped after the not-ready report');
  });

  void it('reports a single container\'s exit as one failed status (nothing else to stop)', async () => {
    const h = harness({ command: ['srv'] });
    await h.settle();
    const before = h.statuses.length;
    h.driver.crash(h.record().id, 2);
    await until('a kick', () => h.kicks() > 0);
    await h.settle();
    assert.deepEqual(h.statuses.slice(before).map((s) => s.state), ['failed']);
  });
});

/** A FakeDriver that keeps the user each container was started as. */
class UserRecordingDriver extends FakeDriver {
  readonly users: (string | undefined)[] = [];
  override start(config: Parameters<FakeDriver['start']>[0]): ReturnType<FakeDriver['start']> {
    this.users.push(config.user);
    return super.start(config);
  }
}

void describe('InstanceRunner: who runs what', () => {
  void it('starts a container without user as the node\'s instance user, and keeps a user the spec names', async () => {
    const driver = new UserRecordingDriver();
    const h = harness({ command: ['x'] }, { driver, instanceUser: 'berth', containers: [{ name: 'a', command: ['x'] }, { name: 'b', command: ['x'], user: 'alice' }] });
    await h.settle();
    assert.equal(h.record().status.state, 'running');
    assert.deepEqual(driver.users, ['berth', 'alice']);
    h.runner.detach();
    // A service's containers all have images or none has (they share a sandbox): images get their own instance.
    const images = new UserRecordingDriver();
    const hi = harness({ command: ['x'] }, { driver: images, instanceUser: 'berth', containers: [{ name: 'c', image: 'nginx' }, { name: 'd', image: 'nginx', user: 'alice' }] });
    await hi.settle();
    assert.equal(hi.record().status.state, 'running');
    assert.deepEqual(images.users, [undefined, 'alice'], 'an image container keeps its image\'s user');
    hi.runner.detach();
  });

  void it('leaves the user to the driver when the node has no instance user (the server is not root)', async () => {
    const driver = new UserRecordingDriver();
    const h = harness({ command: ['x'] }, { driver });
    await h.settle();
    assert.deepEqual(driver.users, [undefined]);
    h.runner.detach();
  });

  void it('hands a stateful slot\'s data directory to the instance user, 0700', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, async () => {
    const h = harness({ command: ['x'] }, { instanceUser: 'nobody', stateful: true });
    await h.settle();
    const dir = join(dataDir, h.record().spec.dataDir ?? '');
    const st = statSync(dir);
    assert.equal(st.uid, 65534);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, '..')).mode & 0o777, 0o711, 'the directories on the way are passable, not listable');
    h.runner.detach();
  });
});
