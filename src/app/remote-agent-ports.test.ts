import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeAgentClient } from '../client/index.js';
import { BerthApiError } from '../client/index.js';
import { silentLogger } from '../lib/index.js';
import type { Instance, InstanceStatus, NewServiceEvent } from '../model/index.js';
import { RemoteAgentPorts, mergeReports } from './remote-agent-ports.js';

const inst = {
  id: 'api-1',
  grid: 'default',
  service: 'api',
  slot: 1,
  node: 'vm-a',
  version: 1,
  status: { state: 'pending' },
  spec: { containers: [{ name: 'api', env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] },
} as unknown as Instance;

describe('RemoteAgentPorts: secret values', () => {
  it('a secret the server cannot decrypt is said as the server said it (the key it needs), not as a missing key', async () => {
    const message = 'secret "db" in grid "default" cannot be read: … encrypted with the key "k1", which this server\'s --encryption-key-file does not have';
    const client = {
      instances: async () => ({ items: [inst], revision: 1 }),
      credentials: async () => {
        throw new BerthApiError(500, 'SECRET_UNREADABLE', message, { grid: 'default', name: 'db', keyName: 'k1' });
      },
    } as unknown as NodeAgentClient;
    const ports = new RemoteAgentPorts(client, 'vm-a', silentLogger);
    await ports.sync();
    assert.throws(() => ports.secretValue('default', 'db', 'password'), { message });
    assert.equal(ports.secretValue('default', 'other', 'password'), undefined, 'other secrets: missing as before');
  });
});

describe('RemoteAgentPorts: status reports', () => {
  const status = (state: InstanceStatus['state'], message: string = state): InstanceStatus => ({ state, timestamp: '2026-01-01T00:00:00.000Z', message });
  const event = (instance: string, type: NewServiceEvent['type']): NewServiceEvent => ({ grid: 'default', service: 'api', type, severity: 'info', message: `${instance} ${type}`, instance });

  /** A client whose reports wait until `release()`; each call's body is kept; `refuse` says which to answer 400. */
  function slowClient(refuse: (updates: readonly { id: string }[]) => boolean = () => false) {
    const calls: { updates: { id: string; status: InstanceStatus }[]; events: NewServiceEvent[] }[] = [];
    let gate: (() => void) | undefined;
    let held = true;
    const client = {
      reportStatuses: async (_node: string, updates: { id: string; status: InstanceStatus }[], events: NewServiceEvent[]) => {
        calls.push({ updates, events });
        if (held) await new Promise<void>((r) => (gate = r));
        if (refuse(updates)) throw new BerthApiError(400, 'REQUEST_INVALID', 'refused');
        return { accepted: updates.length, events: events.length, ignored: 0 };
      },
    } as unknown as NodeAgentClient;
    return {
      client,
      calls,
      release: () => {
        held = false;
        gate?.();
      },
    };
  }

  const settled = async (calls: unknown[], n: number): Promise<void> => {
    for (let i = 0; i < 200 && calls.length < n; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
  };

  it('sends what queued while a report was out in one request: each instance\'s latest status, every event in order', async () => {
    const { client, calls, release } = slowClient();
    const ports = new RemoteAgentPorts(client, 'vm-a', silentLogger);
    ports.reportStatuses([{ id: 'a', status: status('starting') }], []);
    // Queued while the first is out.
    ports.reportStatuses([{ id: 'a', status: status('running') }, { id: 'b', status: status('starting') }], [event('a', 'instance.started')]);
    ports.reportStatuses([{ id: 'b', status: status('running') }], [event('b', 'instance.started')]);
    ports.reportStatuses([{ id: 'c', status: status('starting') }], []);
    release();
    await settled(calls, 2);
    assert.equal(calls.length, 2, 'the first report, then the three that queued, merged');
    assert.deepEqual(calls[0]?.updates, [{ id: 'a', status: status('starting') }]);
    assert.deepEqual(calls[1]?.updates, [
      { id: 'a', status: status('running') },
      { id: 'b', status: status('running') },
      { id: 'c', status: status('starting') },
    ]);
    assert.deepEqual(calls[1]?.events.map((e) => e.message), ['a instance.started', 'b instance.started']);
    ports.stop();
  });

  it('a status that would move an instance backwards does not replace the one it follows (the server would refuse it)', () => {
    const { report, count } = mergeReports([
      { updates: [{ id: 'a', status: status('running') }], events: [] },
      { updates: [{ id: 'a', status: status('starting', 'stale') }], events: [] },
      { updates: [{ id: 'a', status: status('running', 'handles changed') }], events: [] },
    ]);
    assert.equal(count, 3);
    assert.deepEqual(report.updates, [{ id: 'a', status: status('running', 'handles changed') }]);
    const ended = mergeReports([
      { updates: [{ id: 'a', status: status('failed') }], events: [] },
      { updates: [{ id: 'a', status: status('running') }], events: [] },
    ]);
    assert.deepEqual(ended.report.updates, [{ id: 'a', status: status('failed') }]);
  });

  it('merges no more than a request takes: 2,000 statuses, 2,000 events, 512 KiB; one report alone goes whatever its size', () => {
    const many = (from: number, n: number) => ({ updates: Array.from({ length: n }, (_, k) => ({ id: `i${from + k}`, status: status('running') })), events: [] });
    const byCount = mergeReports([many(0, 1500), many(1500, 400), many(1900, 200), many(2100, 10)]);
    assert.equal(byCount.count, 2);
    assert.equal(byCount.report.updates.length, 1900);
    // The same instances again add nothing to the count.
    assert.equal(mergeReports([many(0, 1500), many(0, 1500), many(1500, 500)]).count, 3);
    const big = { updates: [{ id: 'x', status: status('running', 'm'.repeat(300 * 1024)) }], events: [] };
    assert.equal(mergeReports([big, big, big]).count, 1, 'a second 300 KiB report would pass 512 KiB');
    // Bytes, not characters: 100,000 three-byte characters are 300 KB.
    const wide = { updates: [{ id: 'x', status: status('running', '€'.repeat(100_000)) }], events: [] };
    assert.equal(mergeReports([wide, wide]).count, 1, 'two reports of 300 KB each would pass 512 KiB');
    assert.equal(mergeReports([{ updates: [], events: Array.from({ length: 3000 }, () => event('a', 'instance.started')) }, many(0, 1)]).count, 1);
  });

  it('when a merged request is refused, the reports go one by one: only the bad one is dropped', async () => {
    const { client, calls, release } = slowClient((updates) => updates.some((u) => u.id === 'bad'));
    const ports = new RemoteAgentPorts(client, 'vm-a', silentLogger);
    ports.reportStatuses([{ id: 'first', status: status('running') }], []);
    ports.reportStatuses([{ id: 'good-1', status: status('running') }], []);
    ports.reportStatuses([{ id: 'bad', status: status('running') }], []);
    ports.reportStatuses([{ id: 'good-2', status: status('running') }], []);
    release();
    await settled(calls, 5);
    const delivered = calls.filter((c) => !c.updates.some((u) => u.id === 'bad')).flatMap((c) => c.updates.map((u) => u.id));
    assert.deepEqual(delivered, ['first', 'good-1', 'good-2']);
    assert.deepEqual(calls.map((c) => c.updates.map((u) => u.id).join('+')), ['first', 'good-1+bad+good-2', 'good-1', 'bad+good-2', 'bad', 'good-2']);
    ports.stop();
  });
});
