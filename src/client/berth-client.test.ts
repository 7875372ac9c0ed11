import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BerthApiError, BerthClient } from './index.js';

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A node:http server on a free loopback port whose answers each test sets. */
class StubServer {
  readonly requests: Recorded[] = [];
  handler: Handler = (_req, res) => res.writeHead(404).end();
  readonly closed: Promise<void>[] = [];
  readonly #server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      this.closed.push(new Promise((resolve) => res.once('close', () => resolve())));
      this.handler(req, res, body);
    });
  });

  async start(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  get last(): Recorded {
    const r = this.requests[this.requests.length - 1];
    assert.ok(r, 'no request was recorded');
    return r;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

describe('BerthClient', () => {
  const stub = new StubServer();
  let client: BerthClient;

  before(async () => {
    client = new BerthClient({ baseUrl: `${await stub.start()}/` });
  });
  after(() => stub.stop());

  it('lists services of a grid with one label parameter per label', async () => {
    stub.handler = (_req, res) => json(res, 200, { items: [{ name: 'web' }] });
    const items = await client.listServices('dev', { labels: { tier: 'front', app: 'shop' } });
    assert.deepEqual(items, [{ name: 'web' }]);
    assert.equal(stub.last.method, 'GET');
    assert.equal(stub.last.url, '/v1/grids/dev/services?label=tier%3Dfront&label=app%3Dshop');
  });

  it('posts the spec and the deploy flag when creating', async () => {
    stub.handler = (_req, res, body) => json(res, 201, { name: (JSON.parse(body) as { spec: { name: string } }).spec.name });
    const created = await client.createService('default', { name: 'web', containers: [{ command: 'sleep 1' }] }, { deploy: true });
    assert.equal(created.name, 'web');
    assert.deepEqual(JSON.parse(stub.last.body), { spec: { name: 'web', containers: [{ command: 'sleep 1' }] }, deploy: true });
  });

  it('sends the version read with an update and a removal', async () => {
    stub.handler = (_req, res) => json(res, 200, {});
    await client.updateService('default', 'web', { name: 'web', containers: [] }, { version: 7 });
    assert.equal(stub.last.method, 'PUT');
    assert.equal((JSON.parse(stub.last.body) as { version: number }).version, 7);
    await client.removeService('default', 'web', { version: 9 });
    assert.equal(stub.last.method, 'DELETE');
    assert.equal(stub.last.url, '/v1/grids/default/services/web?version=9');
  });

  it('posts replicas to scale and the force flag to deploy', async () => {
    stub.handler = (_req, res) => json(res, 200, {});
    await client.scale('default', 'web', 3, { version: 2 });
    assert.equal(stub.last.url, '/v1/grids/default/services/web/scale');
    assert.deepEqual(JSON.parse(stub.last.body), { replicas: 3, version: 2 });
    await client.deploy('default', 'web', { force: true });
    assert.deepEqual(JSON.parse(stub.last.body), { force: true });
  });

  it('posts a rollback with its target and version, and reads the history and the explanation', async () => {
    stub.handler = (_req, res) => json(res, 200, { items: [], generation: 3, deployedGeneration: 2 });
    await client.rollback('shop', 'web', { to: 2, version: 8 });
    assert.deepEqual([stub.last.method, stub.last.url, JSON.parse(stub.last.body)], ['POST', '/v1/grids/shop/services/web/rollback', { to: 2, version: 8 }]);
    assert.deepEqual(await client.history('shop', 'web'), { items: [], generation: 3, deployedGeneration: 2 });
    assert.equal(stub.last.url, '/v1/grids/shop/services/web/history');
    await client.why('shop', 'web');
    assert.equal(stub.last.url, '/v1/grids/shop/services/web/why');
  });

  it('removes one instance by slot or id, encoding it into the path', async () => {
    stub.handler = (_req, res) => json(res, 202, { id: 'web-2-a', desiredState: 'shutdown' });
    const removed = await client.removeInstance('default', 'web', 2);
    assert.equal(removed.desiredState, 'shutdown');
    assert.deepEqual([stub.last.method, stub.last.url], ['DELETE', '/v1/grids/default/services/web/instances/2']);
    await client.removeInstance('default', 'web', 'web-2-a');
    assert.equal(stub.last.url, '/v1/grids/default/services/web/instances/web-2-a');
  });

  it('asks for the events in the log stream with events: true and yields both kinds of line', async () => {
    stub.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end('{"text":"one","slot":1}\n{"kind":"event","time":"t","event":{"id":1}}\n');
    };
    const seen: string[] = [];
    for await (const line of client.logs('default', 'web', { events: true, follow: true })) seen.push('kind' in line ? 'event' : line.text);
    assert.deepEqual(seen, ['one', 'event']);
    assert.equal(stub.last.url, '/v1/grids/default/services/web/logs?events=true&follow=true');
  });

  it('hands a warning line of the log stream to onWarning and never yields it; stats name the nodes that did not answer', async () => {
    stub.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end('{"warning":{"code":"LOGS_UNAVAILABLE","message":"node vm-b did not answer","details":{"node":"vm-b"}}}\n{"text":"one","slot":1}\n');
    };
    const warnings: string[] = [];
    const seen: string[] = [];
    for await (const line of client.logs('default', 'web', { onWarning: (w) => warnings.push(`${w.code} ${w.message}`) })) seen.push(line.text);
    assert.deepEqual(seen, ['one']);
    assert.deepEqual(warnings, ['LOGS_UNAVAILABLE node vm-b did not answer']);
    assert.equal(stub.last.url, '/v1/grids/default/services/web/logs', 'onWarning is not a query parameter');
    stub.handler = (_req, res) => json(res, 200, { items: [{ instance: 'web-1-a' }], unreachable: [{ node: 'vm-b', reason: 'r', instances: ['web-2-a'] }] });
    const report = await client.statsReport('default', 'web');
    assert.deepEqual(report.unreachable.map((u) => u.node), ['vm-b']);
    assert.deepEqual((await client.stats('default', 'web')).map((i) => i.instance), ['web-1-a']);
  });

  it('reads a service\'s endpoints and puts hand-set addresses with the version read', async () => {
    stub.handler = (_req, res) => json(res, 200, { service: 'db', endpoints: [] });
    const endpoints = await client.endpoints('shop', 'db');
    assert.equal(endpoints.service, 'db');
    assert.equal(stub.last.url, '/v1/grids/shop/services/db/endpoints');
    await client.setEndpoints('shop', 'db', ['127.0.0.5:5432', '127.0.0.6'], { version: 4 });
    assert.equal(stub.last.method, 'PUT');
    assert.equal(stub.last.url, '/v1/grids/shop/services/db/endpoints');
    assert.deepEqual(JSON.parse(stub.last.body), { addresses: ['127.0.0.5:5432', '127.0.0.6'], version: 4 });
  });

  it('turns an error body into a BerthApiError with status, code, details and causes', async () => {
    stub.handler = (_req, res) =>
      json(res, 400, {
        code: 'SPEC_INVALID',
        message: 'Service "web" is invalid: spec.replicas: Invalid value: -1',
        details: { causes: [{ field: 'spec.replicas', type: 'Invalid value', message: 'spec.replicas: Invalid value: -1' }] },
      });
    const error = await client.createService('default', { name: 'web', containers: [] }).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof BerthApiError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'SPEC_INVALID');
    assert.deepEqual(error.causes, [{ field: 'spec.replicas', message: 'spec.replicas: Invalid value: -1' }]);
  });

  it('reports an answer that is not berth JSON as HTTP_<status>', async () => {
    stub.handler = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
    await assert.rejects(client.getService('default', 'web'), (e: unknown) => e instanceof BerthApiError && e.code === 'HTTP_502' && /Bad Gateway/.test(e.message));
  });

  it('parses an NDJSON log stream written in pieces with heartbeats between', async () => {
    stub.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('\n{"text":"one","slot":1}\n{"text":"t');
      setImmediate(() => res.end('wo","slot":2}\n\n'));
    };
    const lines: unknown[] = [];
    for await (const line of client.logs('default', 'web', { tail: 100, instance: 2 })) lines.push(line);
    assert.deepEqual(lines, [{ text: 'one', slot: 1 }, { text: 'two', slot: 2 }]);
    assert.equal(stub.last.url, '/v1/grids/default/services/web/logs?tail=100&instance=2');
  });

  it('ends a followed stream quietly on abort and closes the connection', async () => {
    stub.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"id":1}\n');
    };
    const controller = new AbortController();
    const seen: unknown[] = [];
    for await (const event of client.events('default', 'web', { follow: true, signal: controller.signal })) {
      seen.push(event);
      controller.abort();
    }
    assert.deepEqual(seen, [{ id: 1 }]);
    assert.equal(stub.last.url, '/v1/grids/default/services/web/events?follow=true');
    await stub.closed[stub.closed.length - 1];
  });

  it('closes the connection when the caller breaks out of a watch', async () => {
    stub.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"revision":5,"kind":"service","op":"put","key":"default/web","object":{}}\n');
    };
    for await (const event of client.watch({ fromRevision: 5 })) {
      assert.equal(event.revision, 5);
      break;
    }
    assert.equal(stub.last.url, '/v1/watch?fromRevision=5');
    await stub.closed[stub.closed.length - 1];
  });

  it('raises a stream request error on the first iteration', async () => {
    stub.handler = (_req, res) => json(res, 404, { code: 'SERVICE_NOT_FOUND', message: 'service "nope" not found in grid "default"' });
    const iterate = async (): Promise<void> => {
      for await (const _ of client.logs('default', 'nope')) assert.fail('no line expected');
    };
    await assert.rejects(iterate(), (e: unknown) => e instanceof BerthApiError && e.status === 404 && e.code === 'SERVICE_NOT_FOUND');
  });
});

describe('BerthClient without a server', () => {
  it('reports SERVER_UNREACHABLE telling how to start a server or set the host', async () => {
    const stub = new StubServer();
    const url = await stub.start();
    await stub.stop();
    const client = new BerthClient({ baseUrl: url });
    const error = await client.version().then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof BerthApiError);
    assert.equal(error.code, 'SERVER_UNREACHABLE');
    assert.equal(error.status, 0);
    assert.match(error.message, /ECONNREFUSED/);
    assert.match(error.message, /berth server/);
    assert.match(error.message, /--host or BERTH_HOST/);
  });

  it('uses the fetch it is given', async () => {
    const urls: string[] = [];
    const client = new BerthClient({
      baseUrl: 'http://berth.test',
      fetch: (input) => {
        urls.push(input);
        return Promise.resolve(new Response(JSON.stringify({ items: [] }), { status: 200 }));
      },
    });
    assert.deepEqual(await client.nodes(), []);
    assert.deepEqual(urls, ['http://berth.test/v1/nodes']);
  });
});
