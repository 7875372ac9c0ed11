import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import type { BerthApiError } from './index.js';
import { BerthClient } from './index.js';
import { connectionFailure } from './connection-failure.js';
import { closedPort } from '../../test/closed-port.js';

/*
 * The typed client over several servers of one cluster (`berth --host A,B`), against real loopback
 * sockets: a port nothing listens on (connection refused), a server that takes the request and drops
 * the connection before answering (reset), and a working server.
 */

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A loopback URL that was free a moment ago: connecting to it is refused. */
const closedUrl = async (): Promise<string> => `http://127.0.0.1:${await closedPort()}`;

/** A berth-like server answering every request `{ from: url, method, path }`, counting them by method. */
async function workingServer(headers: (url: string) => Record<string, string> = () => ({})): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const box = { url: '' };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const status = req.url === '/v1/fail' ? 500 : 200;
      const body = status === 500 ? { code: 'INTERNAL', message: 'boom' } : { from: box.url, method: req.method, path: req.url, version: '1', apiVersion: 'v1', node: 'n' };
      res.writeHead(status, { 'content-type': 'application/json', ...headers(box.url) }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  box.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: box.url, seen, server };
}

/** A server that reads the request and resets the connection without answering (it "died" mid-request). */
async function resettingServer(): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => {
      received++;
      socket.resetAndDestroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

const from = async (p: Promise<unknown>): Promise<string> => ((await p) as { from: string }).from;

describe('BerthClient over several servers (--host A,B)', () => {
  it('sends a GET and a write to the next server when the first refuses the connection, and stays there', async () => {
    const closed = await closedUrl();
    const b = await workingServer();
    const client = new BerthClient({ baseUrl: [closed, b.url] });
    assert.equal(client.baseUrl, closed);
    assert.equal(await from(client.version()), b.url, 'the GET was answered by the working server');
    assert.equal(client.server, b.url, 'the server that answered is current');
    await client.createGrid('shop');
    assert.deepEqual(b.seen, ['GET /v1/version', 'POST /v1/grids'], 'the write went once, to the current server');
    const fresh = new BerthClient({ baseUrl: [closed, b.url] });
    await fresh.createGrid('web');
    assert.deepEqual(b.seen.slice(2), ['POST /v1/grids'], 'a write the first server refused (so certainly never received) went to the second, once');
  });

  it('never repeats a request a server answered, even with an error status', async () => {
    const a = await workingServer();
    const b = await workingServer();
    const client = new BerthClient({ baseUrl: [a.url, b.url], fetch: (url, init) => fetch(url.replace('/v1/whoami', '/v1/fail'), init) });
    await assert.rejects(client.whoami(), (e: BerthApiError) => e.status === 500 && e.code === 'INTERNAL');
    assert.deepEqual(a.seen, ['GET /v1/fail']);
    assert.deepEqual(b.seen, [], 'an answer is an answer: nothing went to the second server');
  });

  it('moves a GET on when the connection was reset before the answer, but not a write (it may have been applied)', async () => {
    const dying = await resettingServer();
    const b = await workingServer();
    const client = new BerthClient({ baseUrl: [dying.url, b.url] });
    await client.version();
    assert.equal(dying.received(), 1, 'the first server got the GET and dropped it');
    assert.deepEqual(b.seen, ['GET /v1/version'], 'the GET went on to the second');

    const writer = new BerthClient({ baseUrl: [dying.url, b.url] });
    const error = await writer.createGrid('shop').then(
      () => assert.fail('the write succeeded'),
      (e: unknown) => e as BerthApiError,
    );
    assert.equal(error.code, 'SERVER_UNREACHABLE');
    assert.equal(dying.received(), 2, 'the first server received the write');
    assert.deepEqual(b.seen, ['GET /v1/version'], 'the write was not sent to the second server');
    assert.match(error.message, new RegExp(`^lost the connection to the berth server at ${dying.url} during POST /v1/grids \\(.+\\), before it answered: the write may have been applied, so it was not sent to another server; check whether it took effect, then retry; other servers of its cluster: ${b.url}`));
  });

  it('names every server tried and why when none answers', async () => {
    const one = await closedUrl();
    const two = await closedUrl();
    const error = await new BerthClient({ baseUrl: [one, two] }).createGrid('shop').then(
      () => assert.fail('a server answered'),
      (e: unknown) => e as BerthApiError,
    );
    assert.equal(error.code, 'SERVER_UNREACHABLE');
    const port = (url: string) => url.split(':')[2];
    assert.equal(
      error.message,
      `cannot reach any of the berth servers ${one} (connect ECONNREFUSED 127.0.0.1:${port(one)}), ${two} (connect ECONNREFUSED 127.0.0.1:${port(two)}): start one with \`berth server\`, or point --host or BERTH_HOST at running servers`,
    );
    assert.deepEqual(error.details['servers'], [
      { server: one, reason: `connect ECONNREFUSED 127.0.0.1:${port(one)}` },
      { server: two, reason: `connect ECONNREFUSED 127.0.0.1:${port(two)}` },
    ]);
  });

  it('suggests the other servers of the cluster when its one server dies mid-command, as its answers named them', async () => {
    const other = await closedUrl().then((u) => u.replace(/:\d+$/, ':7420'));
    // What a control-plane server's answers carry (api/leader-routing.ts): every server of the cluster.
    const b = await workingServer((self) => ({ 'berth-control-plane-servers': `${self},${other}` }));
    const client = new BerthClient({ baseUrl: b.url });
    assert.deepEqual(client.knownServers(), [b.url]);
    await client.whoami();
    assert.deepEqual(client.knownServers(), [b.url, other], 'learned from the answer');
    // The server dies: its port now refuses.
    b.server.closeAllConnections();
    await new Promise<void>((resolve) => b.server.close(() => resolve()));
    const error = await client.listGrids().then(
      () => assert.fail('a dead server answered'),
      (e: unknown) => e as BerthApiError,
    );
    assert.match(
      error.message,
      new RegExp(`^cannot reach the berth server at ${b.url} \\(connect ECONNREFUSED [^)]+\\): start one with \`berth server\`, or point --host or BERTH_HOST at a running server; other servers of its cluster: ${other} \\(--host ${other}, or several to try in turn: --host ${b.url},${other}\\)$`),
    );
    assert.deepEqual(error.details['otherServers'], [other]);
  });

  it('learns the servers from GET /v1/version\'s controlPlane too', async () => {
    const answer = { version: '1', apiVersion: 'v1', node: 'control-plane 1', controlPlane: { role: 'follower', servers: [{ id: '1', url: 'http://10.0.0.1:7420', leader: true }, { id: '2', url: 'http://10.0.0.2:7420', leader: false }] } };
    const client = new BerthClient({ baseUrl: 'http://10.0.0.2:7420', fetch: async () => new Response(JSON.stringify(answer), { status: 200 }) });
    await client.version();
    assert.deepEqual(client.knownServers(), ['http://10.0.0.2:7420', 'http://10.0.0.1:7420']);
  });
});

describe('connectionFailure', () => {
  it('tells a connection never made from one broken mid-request, and neither from other errors', () => {
    const fetchFailed = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
    assert.equal(connectionFailure(fetchFailed('ECONNREFUSED')), 'not-sent');
    assert.equal(connectionFailure(fetchFailed('UND_ERR_CONNECT_TIMEOUT')), 'not-sent');
    assert.equal(connectionFailure(Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' })), 'not-sent');
    assert.equal(connectionFailure(fetchFailed('ECONNRESET')), 'interrupted');
    assert.equal(connectionFailure(fetchFailed('UND_ERR_SOCKET')), 'interrupted');
    assert.equal(connectionFailure(new TypeError('fetch failed')), 'interrupted', 'no code: it may have been sent');
    assert.equal(connectionFailure(Object.assign(new Error('fingerprint'), { code: 'TLS_FINGERPRINT_MISMATCH' })), undefined);
    assert.equal(connectionFailure(new Error('bug')), undefined);
  });
});
