import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../lib/index.js';
import type { EndpointsSnapshot, Service, ServiceSpecInput } from '../model/index.js';
import { listenErrorMessage, parseServiceSpec } from '../model/index.js';
import type { ListenerConflict, ListenerStatus } from '../proxy/index.js';
import { ServiceProxy } from '../proxy/index.js';
import { openSqliteStore } from '../store/index.js';
import { EndpointsPublisher } from './endpoints-publisher.js';
import { ListenerConditionReporter, proxySink } from './listener-conditions.js';
import { until } from '../../test/until.js';

/*
 * Issue 9 §4: a listener that cannot be opened shows on the service (ListenersOpen condition, events),
 * is retried with back-off, and the condition clears once it opens. The first test runs the real
 * proxy, publisher and reporter against a port held by a real listener.
 */


async function listen(server: net.Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, resolve);
  });
  return (server.address() as AddressInfo).port;
}

function fetchReply(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

const condition = (s: Service | undefined) => s?.status.conditions?.find((c) => c.type === 'ListenersOpen');

describe('listener conditions with the real proxy', { timeout: 30_000 }, () => {
  it('shows a port another program holds as ListenersOpen False with EADDRINUSE, retries it, and clears once the holder lets go', async () => {
    const store = openSqliteStore(':memory:');
    const proxy = new ServiceProxy({ engine: 'node', protocols: ['TCP'] });
    const publisher = new EndpointsPublisher(store, [proxySink(proxy)], { nodeAddresses: ['127.0.0.1'], logger: silentLogger, timing: { retryMinMs: 100, retryMaxMs: 400 } });
    const unfollow = new ListenerConditionReporter(store, proxy).follow(publisher);
    const backend = net.createServer((s) => s.end('backend'));
    const holder = net.createServer((s) => s.end('holder'));
    after(async () => {
      unfollow();
      publisher.stop();
      await proxy.stop();
      backend.close();
      holder.close();
      store.close();
    });
    const backendPort = await listen(backend, '127.0.0.1');
    const port = await listen(holder, '127.0.0.1');
    await proxy.start();
    publisher.start();
    // A service of hand-set endpoints whose external IP 127.0.0.1 asks for the held port.
    const spec: ServiceSpecInput = { name: 'web', containers: [], endpoints: [`127.0.0.1:${backendPort}`], externalIPs: ['127.0.0.1'], ports: [{ port }] };
    store.createService({ grid: 'default', spec: { ...parseServiceSpec(spec), clusterIP: '127.96.0.9' }, deploy: false });

    const failing = await until('ListenersOpen False', () => {
      const c = condition(store.getService('default', 'web'));
      return c?.status === 'False' ? c : undefined;
    }, 10_000);
    assert.equal(failing.reason, 'EADDRINUSE');
    assert.deepEqual(failing.listeners?.map((l) => [l.listener, l.kind, l.servicePort, l.error]), [[`TCP 127.0.0.1:${port}`, 'externalIP', `${port}/TCP`, 'EADDRINUSE']]);
    assert.match(failing.listeners?.[0]?.message ?? '', /address already in use/);
    assert.match(failing.message, /cannot be opened: EADDRINUSE .*retried with back-off/);
    const failedEvents = store.listEvents({ grid: 'default', service: 'web' }).filter((e) => e.type === 'service.listener_failed');
    assert.equal(failedEvents.length, 1);
    assert.equal(failedEvents[0]?.severity, 'warning');
    // The VIP of the same port opened: only the held address is reported.
    assert.equal(await fetchReply('127.96.0.9', port), 'backend');

    // Retried while held (several syncs), reported once.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(store.listEvents({ grid: 'default', service: 'web' }).filter((e) => e.type === 'service.listener_failed').length, 1, 'one event for one failure, however often it is retried');
    assert.equal(condition(store.getService('default', 'web'))?.lastTransitionTime, failing.lastTransitionTime);

    await new Promise<void>((resolve) => holder.close(() => resolve()));
    const open = await until('ListenersOpen True', () => {
      const c = condition(store.getService('default', 'web'));
      return c?.status === 'True' ? c : undefined;
    }, 10_000);
    assert.equal(open.reason, 'Open');
    assert.equal(open.listeners, undefined);
    assert.equal(await fetchReply('127.0.0.1', port), 'backend', 'traffic flows through the listener once it opened');
    const opened = store.listEvents({ grid: 'default', service: 'web' }).filter((e) => e.type === 'service.listener_opened');
    assert.equal(opened.length, 1);
    assert.match(opened[0]?.message ?? '', new RegExp(`TCP 127\\.0\\.0\\.1:${port} \\(external IP of ${port}/TCP\\) is open now \\(it failed with EADDRINUSE`));
  });
});

/** A proxy stand-in whose listener states the test sets. */
class FakeListeners {
  listeners: ListenerStatus[] = [];
  conflicting: ListenerConflict[] = [];
  status(): ListenerStatus[] {
    return this.listeners;
  }
  conflicts(): ListenerConflict[] {
    return this.conflicting;
  }
}

describe('ListenerConditionReporter', () => {
  const setup = () => {
    const store = openSqliteStore(':memory:', { nodeAddresses: [] });
    const source = new FakeListeners();
    let now = Date.parse('2026-03-01T10:00:00Z');
    const reporter = new ListenerConditionReporter(store, source, { clock: { now: () => now, sleep: async () => {} } });
    for (const name of ['a', 'b']) store.createService({ grid: 'default', spec: parseServiceSpec({ name, containers: [{ command: ['x'] }], ports: [{ port: 80 }] }), deploy: true });
    const snapshot = (): EndpointsSnapshot => ({
      revision: store.revision(),
      services: ['a', 'b'].map((service) => ({ grid: 'default', service, type: 'ClusterIP', headless: false, externalIPs: [], loadBalancerIPs: [], ports: [], endpoints: [], sessionAffinity: { type: 'None' }, publishNotReadyAddresses: false })),
    });
    return { store, source, reporter, snapshot, tick: (ms: number) => (now += ms) };
  };
  const failed = (serviceKey: string, key: string, error: string): ListenerStatus => {
    const [, hostPort = ''] = key.split(' ');
    return { key, protocol: 'TCP', host: hostPort.split(':')[0] ?? '', port: Number(hostPort.split(':')[1]), serviceKey, kind: 'nodePort', state: 'failed', error, message: `listen ${error}` };
  };

  it('gives a service whose listeners never failed no condition, and writes nothing', () => {
    const { store, source, reporter, snapshot } = setup();
    source.listeners = [{ key: 'TCP 127.96.0.1:80', protocol: 'TCP', host: '127.96.0.1', port: 80, serviceKey: 'default/a:80/TCP', kind: 'clusterIP', state: 'listening' }];
    const revision = store.revision();
    reporter.report(snapshot());
    assert.equal(store.getService('default', 'a')?.status.conditions, undefined);
    assert.equal(store.revision(), revision);
  });

  it('keeps the first failure time while a listener keeps failing, and records a new event only for a new failure', () => {
    const { store, source, reporter, snapshot, tick } = setup();
    source.listeners = [failed('default/a:80/TCP', 'TCP 127.0.0.1:30001', 'EADDRINUSE')];
    reporter.report(snapshot());
    const first = condition(store.getService('default', 'a'));
    tick(5000);
    const revision = store.revision();
    reporter.report(snapshot());
    assert.equal(store.revision(), revision, 'an unchanged failure writes nothing');
    source.listeners.push(failed('default/a:80/TCP', 'TCP 192.0.2.1:80', 'EADDRNOTAVAIL'));
    reporter.report(snapshot());
    const second = condition(store.getService('default', 'a'));
    assert.equal(second?.lastTransitionTime, first?.lastTransitionTime);
    assert.equal(second?.listeners?.[0]?.since, first?.listeners?.[0]?.since);
    assert.notEqual(second?.listeners?.[1]?.since, first?.listeners?.[0]?.since);
    assert.match(second?.message ?? '', /\(and 1 more\)/);
    assert.deepEqual(store.listEvents({ grid: 'default', service: 'a' }).filter((e) => e.type === 'service.listener_failed').map((e) => e.data?.['error']), ['EADDRINUSE', 'EADDRNOTAVAIL']);
    assert.equal(condition(store.getService('default', 'b')), undefined, 'the other service is not touched');
  });

  it('says that a port below 1024 needs root when berth is not root, and adds nothing for root or a high port', () => {
    const { store, source, snapshot } = setup();
    const asUser = new ListenerConditionReporter(store, source, { uid: 1000 });
    source.listeners = [{ ...failed('default/a:80/TCP', 'TCP 127.0.0.1:80', 'EACCES'), kind: 'published', message: 'listen EACCES: permission denied 127.0.0.1:80' }];
    asUser.report(snapshot());
    const c = condition(store.getService('default', 'a'));
    assert.equal(c?.reason, 'EACCES');
    assert.equal(c?.listeners?.[0]?.message, 'listen EACCES: permission denied 127.0.0.1:80: ports below 1024 need root, and berth runs as uid 1000, not root: run berth server as root (or give it CAP_NET_BIND_SERVICE), or use a port of 1024 or above');
    assert.match(c?.message ?? '', /^TCP 127\.0\.0\.1:80 \(published port of 80\/TCP\) cannot be opened: EACCES \(.*ports below 1024 need root/);
    const event = store.listEvents({ grid: 'default', service: 'a' }).find((e) => e.type === 'service.listener_failed');
    assert.match(event?.message ?? '', /ports below 1024 need root/, 'the event says so too');

    source.listeners = [{ ...failed('default/b:80/TCP', 'TCP 127.0.0.1:8080', 'EACCES'), message: 'listen EACCES: permission denied 127.0.0.1:8080' }];
    asUser.report(snapshot());
    assert.equal(condition(store.getService('default', 'b'))?.listeners?.[0]?.message, 'listen EACCES: permission denied 127.0.0.1:8080', 'a port of 1024 or above: something else denied it');
    assert.equal(listenErrorMessage('EACCES', 'listen EACCES', 80, 0), 'listen EACCES', 'root was denied for another reason: no hint');
    assert.equal(listenErrorMessage('EADDRINUSE', 'listen EADDRINUSE', 80, 1000), 'listen EADDRINUSE');
    assert.match(listenErrorMessage('EACCES', 'listen EACCES', 443, undefined), /berth does not run as root/);
  });

  it("reports the second claimant of an address as ADDRESS_CONFLICT, naming who serves it", () => {
    const { store, source, reporter, snapshot } = setup();
    source.conflicting = [{ key: 'TCP 127.0.0.5:80', serviceKey: 'default/b:80/TCP', heldBy: 'default/a:80/TCP' }];
    reporter.report(snapshot());
    const c = condition(store.getService('default', 'b'));
    assert.equal(c?.reason, 'ADDRESS_CONFLICT');
    assert.match(c?.listeners?.[0]?.message ?? '', /TCP 127\.0\.0\.5:80 is served for default\/a \(80\/TCP\)/);
    assert.equal(condition(store.getService('default', 'a')), undefined);
  });

  it('keeps the condition through the controllers\' status writes, and the version through its own', () => {
    const { store, source, reporter, snapshot } = setup();
    const version = store.getService('default', 'a')?.version;
    source.listeners = [failed('default/a:80/TCP', 'TCP 127.0.0.1:30001', 'EADDRINUSE')];
    reporter.report(snapshot());
    assert.equal(store.getService('default', 'a')?.version, version, 'conditions are not the user\'s part: the version stays');
    store.applyControllerWrites({ serviceStatus: [{ grid: 'default', name: 'a', status: { phase: 'running', desiredInstances: 1, runningInstances: 1, observedGeneration: 1, message: 'running', updatedAt: new Date().toISOString() } }] });
    const s = store.getService('default', 'a');
    assert.equal(s?.status.phase, 'running');
    assert.equal(condition(s)?.status, 'False', 'the controller\'s status write kept the data plane\'s condition');
  });
});
