import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { FakeDriver } from '../src/drivers/index.js';
import { silentLogger, systemClock } from '../src/lib/index.js';
import type { Instance, InstanceStatus, NewServiceEvent, ServiceSpecInput } from '../src/model/index.js';
import { instance, spec } from './fixtures.js';
import type { DataPlane } from '../src/agent/instance-drain.js';
import type { RunnerContext } from '../src/agent/runner-context.js';
import { InstanceRunner } from '../src/agent/instance-runner.js';

/* The InstanceRunner tests' harness (instance-runner*.test.ts): a runner with the store played in memory. */

type ContainerSpecInput = NonNullable<ServiceSpecInput['containers']>[number];

/** An HTTP server whose answers the test sets per path; counts requests. */
export class TestServer {
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


export const dataDir = mkdtempSync(join(tmpdir(), 'berth-runner-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * One runner with the store played in memory: every report becomes the instance's new status (and a
 * new version), as the agent's round trip through the store would; `events` and `statuses` keep all.
 */
export function harness(container: ContainerSpecInput, options: { dataPlane?: DataPlane; driver?: FakeDriver; record?: Instance; drainTimeout?: string; instanceUser?: string; containers?: ContainerSpecInput[]; stateful?: boolean } = {}) {
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

export const httpProbe = (port: number, path: string, extra: Record<string, unknown> = {}) => ({ httpGet: { path, port }, periodSeconds: 0.1, timeoutSeconds: 0.5, ...extra });
