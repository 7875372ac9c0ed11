import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Logger } from '../lib/index.js';
import { silentLogger } from '../lib/index.js';
import type { ServiceSpecInput } from '../model/index.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from './index.js';

/*
 * The host-listener table (issue 9 §4): claimed in the transaction that stores the spec, so a refused
 * spec leaves nothing; a wildcard node address overlaps every address of its port; rebuilt from the
 * stored specs on open, tolerating conflicts an older store holds; an automatic rollback that would
 * take another service's listener is refused and pauses the rollout.
 */

const spec = (name: string, extra: Partial<ServiceSpecInput> = {}) =>
  parseServiceSpec({ name, containers: [{ command: ['srv'], ports: [{ containerPort: 8080 }] }], ports: [{ port: 80, targetPort: 8080 }], ...extra });

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('the host-listener table', () => {
  it('claims in the create transaction: a refused create stores no service, no event and no revision', () => {
    const store = openSqliteStore(':memory:');
    store.createService({ grid: 'default', spec: spec('a', { type: 'LoadBalancer' }), deploy: false });
    const revision = store.revision();
    const events = { grid: 'default', service: 'b', type: 'service.created', severity: 'info', message: 'created' } as const;
    assert.equal(code(() => store.createService({ grid: 'default', spec: spec('b', { type: 'LoadBalancer' }), deploy: true, events: [events] })), 'PORT_ALLOCATED');
    assert.equal(store.getService('default', 'b'), undefined);
    assert.deepEqual(store.listEvents({ grid: 'default', service: 'b' }), []);
    assert.equal(store.revision(), revision);
    assert.deepEqual(store.listHostListeners().map((l) => `${l.service} ${l.kind} ${l.protocol} ${l.host}:${l.port} ${l.field}`), ['a loadBalancerIP TCP 127.0.0.1:80 spec.ports[0].port']);
    store.close();
  });

  it('claims the virtual IP of every service port, and a service without ports its containers\' ports', () => {
    const store = openSqliteStore(':memory:');
    store.createService({ grid: 'default', spec: { ...parseServiceSpec({ name: 'plain', containers: [{ command: ['x'], ports: [{ containerPort: 5432 }] }] }), clusterIP: '127.96.0.7' }, deploy: false });
    assert.deepEqual(store.listHostListeners().map((l) => `${l.kind} ${l.host}:${l.port} ${l.servicePort}`), ['clusterIP 127.96.0.7:5432 5432/TCP']);
    store.close();
  });

  it('sees a node port on the wildcard node address as taking the port on every address', () => {
    const store = openSqliteStore(':memory:', { nodeAddresses: ['0.0.0.0'] });
    store.createService({ grid: 'default', spec: spec('np', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30000 }] }), deploy: false });
    assert.equal(code(() => store.createService({ grid: 'default', spec: spec('ext', { externalIPs: ['127.0.0.5'], ports: [{ port: 30000, targetPort: 8080 }] }), deploy: false })), 'PORT_ALLOCATED');
    store.createService({ grid: 'default', spec: spec('ok', { externalIPs: ['127.0.0.5'], ports: [{ port: 30001, targetPort: 8080 }] }), deploy: false });
    store.close();
  });

  it('refuses two ports of one service asking for one listener', () => {
    const store = openSqliteStore(':memory:');
    const both = spec('web', { type: 'NodePort', ports: [{ name: 'a', port: 80, targetPort: 8080, nodePort: 30000 }, { name: 'b', port: 81, targetPort: 8080, nodePort: 30000 }] });
    assert.equal(code(() => store.createService({ grid: 'default', spec: both, deploy: false })), 'PORT_ALLOCATED');
    store.close();
  });

  it('claims published ports on the node addresses, refuses a second service publishing one (or its node port) with PORT_ALLOCATED, and frees them with the service', () => {
    const store = openSqliteStore(':memory:');
    store.createService({ grid: 'default', spec: { ...spec('a', { ports: [{ port: 80, targetPort: 8080, published: 38080 }] }), clusterIP: '127.96.0.7' }, deploy: false });
    assert.deepEqual(store.listHostListeners().map((l) => `${l.kind} ${l.host}:${l.port} ${l.field}`), ['clusterIP 127.96.0.7:80 spec.clusterIP', 'published 127.0.0.1:38080 spec.ports[0].published']);
    let refused: unknown;
    try {
      store.createService({ grid: 'default', spec: spec('b', { ports: [{ port: 81, targetPort: 8080, published: 38080 }] }), deploy: false });
    } catch (e) {
      refused = e;
    }
    assert.equal((refused as { code?: string }).code, 'PORT_ALLOCATED');
    assert.match((refused as Error).message, /spec\.ports\[0\]\.published: Invalid value: 38080: provided port is already allocated \(TCP 127\.0\.0\.1:38080 is served for service default\/a, its spec\.ports\[0\]\.published\)/);
    store.createService({ grid: 'default', spec: spec('inrange', { ports: [{ port: 80, targetPort: 8080, published: 30500 }] }), deploy: false });
    assert.equal(code(() => store.createService({ grid: 'default', spec: spec('c', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30500 }] }), deploy: false })), 'PORT_ALLOCATED', 'a node port on a published port');
    assert.equal(code(() => store.createService({ grid: 'default', spec: spec('d', { ports: [{ name: 'x', port: 80, targetPort: 8080, published: 38081 }, { name: 'y', port: 81, targetPort: 8080, published: 38081 }] }), deploy: false })), 'PORT_ALLOCATED', 'two ports of one service');
    store.createService({ grid: 'default', spec: spec('e', { ports: [{ port: 80, protocol: 'UDP', targetPort: 8080, published: 38080 }] }), deploy: false });
    store.applyControllerWrites({ deleteServices: [{ grid: 'default', name: 'a' }] });
    store.createService({ grid: 'default', spec: spec('b', { ports: [{ port: 81, targetPort: 8080, published: 38080 }] }), deploy: false });
    store.close();
  });

  describe('rebuilt on open from the stored specs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-host-ports-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('fills the table of a store written before it, so its services\' listeners are held at once', () => {
      const path = join(dir, 'old.db');
      const store = openSqliteStore(path);
      store.createService({ grid: 'default', spec: spec('old', { type: 'LoadBalancer' }), deploy: false });
      store.close();
      // What a store written before the table looks like: services, no claims.
      const raw = new Database(path);
      raw.exec('DELETE FROM host_ports');
      raw.close();
      const reopened = openSqliteStore(path);
      assert.equal(code(() => reopened.createService({ grid: 'default', spec: spec('new', { type: 'LoadBalancer' }), deploy: false })), 'PORT_ALLOCATED');
      reopened.close();
    });

    it('lets the older of two conflicting services keep the listener and logs the conflict', () => {
      const path = join(dir, 'conflict.db');
      const store = openSqliteStore(path, { nodeAddresses: ['127.0.0.3'] });
      store.createService({ grid: 'default', spec: spec('older', { type: 'LoadBalancer' }), deploy: false });
      store.close();
      const raw = new Database(path);
      // Store a second LoadBalancer service on port 80 behind the table's back (as before the table).
      const row = raw.prepare("SELECT json FROM services WHERE name = 'older'").get() as { json: string };
      const newer = JSON.parse(row.json) as { name: string; id: string; createdAt: string; spec: { name: string } };
      newer.name = 'newer';
      newer.id = 'newer-id';
      newer.createdAt = new Date(Date.parse(newer.createdAt) + 1000).toISOString();
      newer.spec.name = 'newer';
      raw.prepare("INSERT INTO services (grid, name, json, mod_revision) VALUES ('default', 'newer', ?, 1)").run(JSON.stringify(newer));
      raw.close();
      const warnings: string[] = [];
      const logger: Logger = { ...silentLogger, warn: (_o: object, m: string) => void warnings.push(m), child: () => logger };
      const reopened = openSqliteStore(path, { nodeAddresses: ['127.0.0.3'], logger });
      assert.deepEqual(warnings, ['default/newer asks for TCP 127.0.0.3:80, which default/older holds: the older service keeps it; change one of them']);
      assert.deepEqual(reopened.listHostListeners().filter((l) => l.kind === 'loadBalancerIP').map((l) => l.service), ['older']);
      // The newer one can still be updated (scaled) without giving up the port first…
      const current = reopened.getService('default', 'newer');
      assert.ok(current);
      reopened.updateServiceIntent('default', 'newer', { spec: { ...current.spec, replicas: 3 } });
      // …but not given a new listener that is taken.
      reopened.createService({ grid: 'default', spec: spec('other', { externalIPs: ['127.0.0.9'] }), deploy: false });
      assert.equal(code(() => reopened.updateServiceIntent('default', 'newer', { spec: { ...current.spec, externalIPs: ['127.0.0.9'] } })), 'PORT_ALLOCATED');
      reopened.close();
    });
  });

  it('refuses an automatic rollback to a spec whose listener another service took since, and pauses the rollout saying why', () => {
    const store = openSqliteStore(':memory:');
    store.createService({ grid: 'default', spec: spec('web', { type: 'LoadBalancer' }), deploy: true });
    const v2 = store.updateServiceIntent('default', 'web', { spec: spec('web'), deploy: true });
    store.createService({ grid: 'default', spec: spec('thief', { type: 'LoadBalancer' }), deploy: false });
    const requestedAt = v2.deployment?.requestedAt as string;
    const update = { state: 'rollback_started' as const, generation: 2, requestedAt, fromGeneration: 1, startedAt: requestedAt, message: 'update to generation 2 failed, rolling back to generation 1: web-1 crashed', failedInstances: [], updatedInstances: 0, totalInstances: 1 };
    store.applyControllerWrites({
      serviceStatus: [{ grid: 'default', name: 'web', status: { ...v2.status, update } }],
      rollback: { grid: 'default', name: 'web', toGeneration: 1, ifRequestedAt: requestedAt },
    });
    const after = store.getService('default', 'web');
    assert.equal(after?.spec.type, 'ClusterIP', 'the rollback was not applied');
    assert.equal(after?.deployment?.generation, 2);
    assert.equal(after?.status.update?.state, 'paused');
    assert.match(after?.status.update?.message ?? '', /automatic rollback to generation 1 is refused: spec\.ports\[0\]\.port: Invalid value: 80: provided port is already allocated \(TCP 127\.0\.0\.1:80 is served for service default\/thief/);
    assert.ok(store.listEvents({ grid: 'default', service: 'web' }).some((e) => e.type === 'service.update_paused' && /refused/.test(e.message)));
    store.close();
  });
});
