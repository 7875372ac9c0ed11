import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { endpoint, endpointsOf, exchange, replyServer, snapshotOf } from './proxy-fixtures.js';
import { ProxyWorker } from './worker-runtime.js';
import type { ToParent } from './worker-protocol.js';

// Loopback addresses private to this file: listeners on 127.96.203.0/24, backends on 127.21.203.0/24.

test('a worker acknowledges a sync only once every announced listener arrived, and closes the ones no longer served', async () => {
  const { server: backend, port: backendPort } = await replyServer('127.21.203.1', 'backend');
  const listener = net.createServer();
  listener.listen({ host: '127.96.203.1', port: 0 });
  await once(listener, 'listening');
  const port = (listener.address() as AddressInfo).port;
  const key = `TCP 127.96.203.1:${port}`;
  const sent: ToParent[] = [];
  const worker = new ProxyWorker((message) => sent.push(message));
  try {
    worker.handle({ t: 'init', nodeAddresses: ['127.0.0.1'], maxConnectAttempts: 3, countFlushMs: 10 }, undefined);
    const snapshot = snapshotOf([endpointsOf({ clusterIP: '127.96.203.1', ports: [{ name: '', protocol: 'TCP', port }], endpoints: [endpoint('127.21.203.1', backendPort)] })]);
    worker.handle({ t: 'sync', seq: 1, snapshot, serve: [key], handles: 1 }, undefined);
    assert.equal(sent.length, 0, 'no acknowledgement before the announced listener arrived');
    worker.handle({ t: 'listen', seq: 1, key }, listener);
    assert.deepEqual(sent, [{ t: 'ack', seq: 1 }]);
    assert.equal(await exchange('127.96.203.1', port), 'backend', 'the worker relays on the listener it was handed');

    worker.handle({ t: 'sync', seq: 2, snapshot, serve: [], handles: 0 }, undefined);
    assert.deepEqual(sent.at(-1), { t: 'ack', seq: 2 });
    assert.equal(listener.listening, false, 'a listener no longer served is closed before the acknowledgement');
    // Counts were sent before the acknowledgement: the connection opened and closed.
    const counts = sent.filter((m) => m.t === 'counts');
    assert.ok(counts.length > 0 && sent.indexOf(counts.at(-1) as ToParent) < sent.length - 1);
  } finally {
    worker.stop();
    backend.close();
  }
});

test('a worker reports an error of a listener it serves and a listener that did not arrive', () => {
  const sent: ToParent[] = [];
  const worker = new ProxyWorker((message) => sent.push(message));
  worker.handle({ t: 'init', nodeAddresses: ['127.0.0.1'], maxConnectAttempts: 3, countFlushMs: 10 }, undefined);
  const snapshot = snapshotOf([endpointsOf({ clusterIP: '127.96.203.2', ports: [{ name: '', protocol: 'TCP', port: 18121 }] })]);
  const key = 'TCP 127.96.203.2:18121';
  worker.handle({ t: 'sync', seq: 1, snapshot, serve: [key], handles: 1 }, undefined);
  worker.handle({ t: 'listen', seq: 1, key }, undefined);
  assert.equal(sent[0]?.t, 'error');
  assert.deepEqual(sent[0]?.t === 'error' && [sent[0].listener, sent[0].code], [key, 'ENOHANDLE']);
  assert.deepEqual(sent[1], { t: 'ack', seq: 1 }, 'a missing handle does not hold the acknowledgement forever');

  const server = net.createServer();
  worker.handle({ t: 'sync', seq: 2, snapshot, serve: [key], handles: 1 }, undefined);
  worker.handle({ t: 'listen', seq: 2, key }, server);
  server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }));
  const error = sent.at(-1);
  assert.deepEqual(error?.t === 'error' && [error.listener, error.code], [key, 'EMFILE']);
  worker.stop();
});
