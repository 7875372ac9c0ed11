import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import type { LogLine, ServiceEvent } from '../model/index.js';
import type { BerthApiError } from './index.js';
import { BerthClient } from './index.js';
import { closedPort } from '../../test/closed-port.js';

/*
 * A followed stream over several servers (`berth --host A,B logs -f`), against real loopback sockets:
 * servers that die mid-stream (their socket destroyed, as a SIGKILL leaves it), go silent, never answer,
 * or end the stream themselves; and the timeouts of one request.
 */

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A server whose n-th request (from 1) `handle` answers; it records each request's URL. */
async function stubServer(handle: Handler): Promise<{ url: string; urls: string[]; server: Server }> {
  const urls: string[] = [];
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    handle(req, res, urls.length);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, urls, server };
}

/** A server that accepts connections and reads requests but never answers (a SIGSTOPped process). */
async function hangingServer(): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => received++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

const NDJSON = { 'content-type': 'application/x-ndjson' };
const event = (id: number): ServiceEvent => ({ id, time: `2026-03-01T12:00:0${id % 10}.000Z`, grid: 'default', service: 'web', type: 'service.scaled', severity: 'info', message: `event ${id}` });
const line = (time: string, text: string): LogLine => ({ time, stream: 'stdout', text, instance: 'web-1-a', slot: 1, container: 'main' });
const send = (res: ServerResponse, values: readonly unknown[]): void => {
  for (const v of values) res.write(`${JSON.stringify(v)}\n`);
};
/** Writes the values, then destroys the connection as a killed server's kernel does. */
const sendAndDie = (res: ServerResponse, values: readonly unknown[]): void => {
  res.writeHead(200, NDJSON);
  send(res, values);
  setTimeout(() => res.socket?.destroy(), 50);
};
const queryOf = (url: string | undefined): Record<string, string> => Object.fromEntries(new URL(url ?? '/', 'http://x').searchParams);

async function collect<T>(values: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of values) out.push(v);
  return out;
}

async function failure(p: Promise<unknown>): Promise<BerthApiError> {
  return p.then(
    () => assert.fail('it succeeded'),
    (e: unknown) => e as BerthApiError,
  );
}

describe('a followed stream over several servers', () => {
  it('goes on with the events on the next server after the last id when its server dies, none twice, none lost', async () => {
    const a = await stubServer((_req, res) => sendAndDie(res, [event(1), event(2), event(3)]));
    const b = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(3), event(4), event(5)]); // a lagging replica may send the last one again
      res.end();
    });
    const client = new BerthClient({ baseUrl: [a.url, b.url] });
    const events = await collect(client.events('default', 'web', { follow: true, tail: 100 }));
    assert.deepEqual(events.map((e) => e.id), [1, 2, 3, 4, 5]);
    assert.deepEqual(queryOf(a.urls[0]), { tail: '100', follow: 'true' });
    assert.deepEqual(queryOf(b.urls[0]), { follow: 'true', after: '3' }, 'resumed after the last id, without the tail');
    assert.equal(b.urls.length, 1, 'a stream the server ended is not resumed');
    assert.equal(client.server, b.url);
  });

  it('goes on with the logs from the last line\'s time, dropping the lines of that time it had', async () => {
    const t1 = '2026-03-01T12:00:01.000000001Z';
    const t3 = '2026-03-01T12:00:03.123456789Z';
    const a = await stubServer((_req, res) => sendAndDie(res, [line(t1, 'one'), line(t3, 'three'), line(t3, 'three')]));
    const b = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [line(t3, 'three'), line(t3, 'three'), line(t3, 'three'), line(t3, 'three-b'), line('2026-03-01T12:00:04Z', 'four')]);
      res.end();
    });
    const client = new BerthClient({ baseUrl: [a.url, b.url] });
    const lines = await collect(client.logs('default', 'web', { follow: true, tail: 100 }));
    assert.deepEqual(lines.map((l) => l.text), ['one', 'three', 'three', 'three', 'three-b', 'four'], 'the third "three" at that nanosecond is a new line');
    assert.deepEqual(queryOf(b.urls[0]), { since: t3, follow: 'true' });
  });

  it('resumes a stream that broke before its first value from its start, a tail of 0 by time', async () => {
    const a = await stubServer((_req, res) => sendAndDie(res, []));
    const b = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      res.end();
    });
    const before = Date.now();
    await collect(new BerthClient({ baseUrl: [a.url, b.url] }).events('default', 'web', { follow: true, tail: 0 }));
    const q = queryOf(b.urls[0]);
    assert.deepEqual(Object.keys(q).sort(), ['follow', 'since']);
    assert.ok(Date.parse(q['since'] ?? '') >= before - 1 && Date.parse(q['since'] ?? '') <= Date.now(), q['since']);
  });

  it('asks a server that failed again once the stream made progress elsewhere', async () => {
    const a = await stubServer((_req, res, n) => {
      if (n === 1) return sendAndDie(res, [event(1)]);
      res.writeHead(200, NDJSON);
      send(res, [event(3)]);
      res.end();
    });
    const b = await stubServer((_req, res) => sendAndDie(res, [event(2)]));
    const events = await collect(new BerthClient({ baseUrl: [a.url, b.url] }).events('default', 'web', { follow: true }));
    assert.deepEqual(events.map((e) => e.id), [1, 2, 3]);
    assert.deepEqual(queryOf(a.urls[1]), { follow: 'true', after: '2' });
  });

  it('goes on at the next server when its server ends the stream because it stops (SERVER_STOPPING)', async () => {
    const a = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(1), { error: { code: 'SERVER_STOPPING', message: 'the berth server is stopping', details: {} } }]);
      res.end();
    });
    const b = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(2)]);
      res.end();
    });
    const resumed: string[] = [];
    const events = await collect(new BerthClient({ baseUrl: [a.url, b.url] }).events('default', 'web', { follow: true, onResume: (r) => resumed.push(`${r.from} ${r.reason} ${r.to}`) }));
    assert.deepEqual(events.map((e) => e.id), [1, 2]);
    assert.deepEqual(queryOf(b.urls[0]), { follow: 'true', after: '1' });
    assert.deepEqual(resumed, [`${a.url} it is stopping (SERVER_STOPPING) ${b.url}`]);
  });

  it('fails once every server failed, naming each and why', async () => {
    const a = await stubServer((_req, res) => sendAndDie(res, [event(1)]));
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const seen: number[] = [];
    const error = await failure(
      (async () => {
        for await (const e of new BerthClient({ baseUrl: [a.url, closed] }).events('default', 'web', { follow: true })) seen.push(e.id);
      })(),
    );
    assert.deepEqual(seen, [1]);
    assert.equal(error.code, 'SERVER_UNREACHABLE');
    const port = closed.split(':')[2] ?? '';
    assert.match(error.message, new RegExp(`^cannot reach any of the berth servers ${a.url} \\(lost the connection mid-stream: [^)]+\\), ${closed} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`));
    assert.deepEqual((error.details['servers'] as { server: string }[]).map((s) => s.server), [a.url, closed]);
  });

  it('with one server, fails when its stream breaks, saying so', async () => {
    const a = await stubServer((_req, res) => sendAndDie(res, [event(1)]));
    const error = await failure(collect(new BerthClient({ baseUrl: a.url }).events('default', 'web', { follow: true })));
    assert.equal(error.code, 'SERVER_UNREACHABLE');
    assert.match(error.message, new RegExp(`^lost the stream of GET /v1/grids/default/services/web/events from the berth server at ${a.url} \\(lost the connection mid-stream: `));
    assert.equal(a.urls.length, 1);
  });

  it('does not resume a stream the server ended with an error line: that is the error', async () => {
    const a = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(1), { error: { code: 'LOGS_UNAVAILABLE', message: 'no node answered', details: { node: 'vm-b' } } }]);
      res.end();
    });
    const b = await stubServer((_req, res) => res.writeHead(500).end());
    const error = await failure(collect(new BerthClient({ baseUrl: [a.url, b.url] }).events('default', 'web', { follow: true })));
    assert.equal(error.code, 'LOGS_UNAVAILABLE');
    assert.equal(error.message, 'no node answered');
    assert.deepEqual(error.details, { node: 'vm-b' });
    assert.deepEqual(b.urls, []);
  });

  it('throws the error line of a stream it does not follow too, after the values before it (a watch, a plain logs or events read)', async () => {
    const a = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(1), { error: { code: 'LOGS_UNAVAILABLE', message: 'no node answered', details: { node: 'vm-b' } } }, event(2)]);
      res.end();
    });
    const seen: number[] = [];
    const error = await failure((async () => {
      for await (const e of new BerthClient({ baseUrl: a.url }).events('default', 'web')) seen.push(e.id);
    })());
    assert.equal(error.code, 'LOGS_UNAVAILABLE');
    assert.deepEqual(error.details, { node: 'vm-b' });
    assert.deepEqual(seen, [1], 'the value before the error line, none after it');
  });

  it('leaves a stream that stays silent, not even a heartbeat, past streamIdleMs for the next server', async () => {
    const a = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(1)]); // then nothing: a stopped server
    });
    const b = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(2)]);
      res.end();
    });
    const started = Date.now();
    const events = await collect(new BerthClient({ baseUrl: [a.url, b.url], timeouts: { streamIdleMs: 300 } }).events('default', 'web', { follow: true }));
    assert.deepEqual(events.map((e) => e.id), [1, 2]);
    assert.ok(Date.now() - started >= 300);
  });

  it('keeps a quiet stream whose heartbeats come, however long it sends no value', async () => {
    const a = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(1)]);
      const beat = setInterval(() => res.write('\n'), 100);
      res.once('close', () => clearInterval(beat));
    });
    const b = await stubServer((_req, res) => res.writeHead(500).end());
    const abort = new AbortController();
    const seen: number[] = [];
    setTimeout(() => abort.abort(), 1200);
    for await (const e of new BerthClient({ baseUrl: [a.url, b.url], timeouts: { streamIdleMs: 300, answerMs: 300 } }).events('default', 'web', { follow: true, signal: abort.signal })) seen.push(e.id);
    assert.deepEqual(seen, [1]);
    assert.deepEqual(b.urls, [], 'never left: 1.2 s quiet, with heartbeats, past a 300 ms idle and answer timeout');
  });
});

describe('a server that accepts the connection and never answers', () => {
  it('is left after answerMs for a GET, which the next server answers', async () => {
    const hung = await hangingServer();
    const b = await stubServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '1' })));
    const client = new BerthClient({ baseUrl: [hung.url, b.url], timeouts: { answerMs: 300 } });
    const started = Date.now();
    assert.equal((await client.version()).version, '1');
    assert.ok(Date.now() - started >= 300);
    assert.equal(hung.received() > 0, true, 'the stopped server got the request');
    assert.equal(client.server, b.url);
  });

  it('is named with the timeout when it was the only one, or for a write that may have arrived', async () => {
    const hung = await hangingServer();
    const only = await failure(new BerthClient({ baseUrl: hung.url, timeouts: { answerMs: 200 } }).listGrids());
    assert.equal(only.message, `cannot reach the berth server at ${hung.url} (no answer within 200 ms (request timeout)): start one with \`berth server\`, or point --host or BERTH_HOST at a running server`);
    const b = await stubServer((_req, res) => res.writeHead(201).end('{}'));
    const write = await failure(new BerthClient({ baseUrl: [hung.url, b.url], timeouts: { answerMs: 200 } }).createGrid('shop'));
    assert.match(write.message, new RegExp(`^lost the connection to the berth server at ${hung.url} during POST /v1/grids \\(no answer within 200 ms \\(request timeout\\)\\), before it answered: the write may have been applied, so it was not sent to another server`));
    assert.deepEqual(b.urls, [], 'the write was not sent again');
  });

  it('is left after answerMs when a followed stream is resumed there', async () => {
    const a = await stubServer((_req, res) => sendAndDie(res, [event(1)]));
    const hung = await hangingServer();
    const c = await stubServer((_req, res) => {
      res.writeHead(200, NDJSON);
      send(res, [event(2)]);
      res.end();
    });
    const events = await collect(new BerthClient({ baseUrl: [a.url, hung.url, c.url], timeouts: { answerMs: 300 } }).events('default', 'web', { follow: true }));
    assert.deepEqual(events.map((e) => e.id), [1, 2]);
    assert.equal(hung.received() > 0, true);
  });
});
