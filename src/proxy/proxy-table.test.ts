import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyTable } from './proxy-table.js';
import { endpoint, endpointsOf, snapshotOf } from './proxy-fixtures.js';

test('opens the VIP, external, load-balancer and node-port addresses of each service port', () => {
  const table = buildProxyTable(
    snapshotOf([
      endpointsOf({
        type: 'LoadBalancer',
        clusterIP: '127.96.0.5',
        externalIPs: ['127.50.0.1'],
        loadBalancerIPs: ['127.60.0.1'],
        ports: [{ name: '', protocol: 'TCP', port: 80, nodePort: 30080 }],
      }),
    ]),
    { nodeAddresses: ['127.0.0.1', '127.0.0.2'] },
  );
  assert.deepEqual([...table.listeners.keys()].sort(), ['TCP 127.0.0.1:30080', 'TCP 127.0.0.2:30080', 'TCP 127.50.0.1:80', 'TCP 127.60.0.1:80', 'TCP 127.96.0.5:80']);
});

test('opens a published port on every node address, for a ClusterIP service too, balanced like the VIP', () => {
  const table = buildProxyTable(
    snapshotOf([
      endpointsOf({
        clusterIP: '127.96.0.5',
        ports: [{ name: '', protocol: 'TCP', port: 80, published: 38080 }],
        endpoints: [endpoint('127.21.0.1', 8080), endpoint('127.21.0.2', 8080)],
      }),
    ]),
    { nodeAddresses: ['127.0.0.1', '127.0.0.2'] },
  );
  assert.deepEqual([...table.listeners.values()].map((l) => `${l.key} ${l.kind} ${l.serviceKey}`).sort(), [
    'TCP 127.0.0.1:38080 published default/web:80/TCP',
    'TCP 127.0.0.2:38080 published default/web:80/TCP',
    'TCP 127.96.0.5:80 clusterIP default/web:80/TCP',
  ]);
  assert.deepEqual(table.services.get('default/web:80/TCP')?.backends.map((b) => b.key), ['127.21.0.1:8080', '127.21.0.2:8080']);
});

test('balances over ready endpoints only, by the target port of the service port name', () => {
  const table = buildProxyTable(
    snapshotOf([
      endpointsOf({
        clusterIP: '127.96.0.5',
        ports: [
          { name: 'http', protocol: 'TCP', port: 80 },
          { name: 'dns', protocol: 'UDP', port: 53 },
        ],
        endpoints: [
          { ip: '127.21.0.1', ports: { http: 8080, dns: 5353 }, ready: true },
          { ip: '127.21.0.2', ports: { http: 8080, dns: 5353 }, ready: false },
          { ip: '127.21.0.3', ports: { http: 8081 }, ready: true },
        ],
      }),
    ]),
  );
  assert.deepEqual(table.services.get('default/web:80/TCP')?.backends.map((b) => b.key), ['127.21.0.1:8080', '127.21.0.3:8081']);
  assert.deepEqual(table.services.get('default/web:53/UDP')?.backends.map((b) => b.key), ['127.21.0.1:5353']);
});

test('serves not-ready endpoints when publishNotReadyAddresses is set', () => {
  const table = buildProxyTable(
    snapshotOf([endpointsOf({ clusterIP: '127.96.0.5', publishNotReadyAddresses: true, endpoints: [endpoint('127.21.0.2', 80, { ready: false })] })]),
  );
  assert.equal(table.services.get('default/web:80/TCP')?.backends.length, 1);
});

test('gives headless and ExternalName services no VIP listener', () => {
  const table = buildProxyTable(
    snapshotOf([
      endpointsOf({ service: 'db', headless: true, endpoints: [endpoint('127.21.0.1', 5432)] }),
      endpointsOf({ service: 'ext', type: 'ExternalName', externalName: 'example.org' }),
    ]),
  );
  assert.equal(table.listeners.size, 0);
});

test('reports a second service port claiming an address and keeps the first', () => {
  const table = buildProxyTable(
    snapshotOf([endpointsOf({ service: 'a', clusterIP: '127.96.0.5' }), endpointsOf({ service: 'b', externalIPs: ['127.96.0.5'] })]),
  );
  assert.equal(table.listeners.get('TCP 127.96.0.5:80')?.serviceKey, 'default/a:80/TCP');
  assert.deepEqual(table.conflicts, [{ key: 'TCP 127.96.0.5:80', serviceKey: 'default/b:80/TCP', heldBy: 'default/a:80/TCP' }]);
});
