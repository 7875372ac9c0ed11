import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { service } from './testing/fixtures.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';
import { closedPort } from '../../test/closed-port.js';

/** A loopback URL nothing listens at (a server that died): connecting is refused. */
const deadServer = async (): Promise<string> => `http://127.0.0.1:${await closedPort()}`;

describe('berth --host A,B (servers of one cluster, tried in turn)', () => {
  const stub = new StubApi();
  let dead = '';
  before(async () => {
    await stub.start();
    dead = await deadServer();
  });
  after(() => stub.stop());
  beforeEach(() => stub.reset());

  it('goes on to the next server when the first refuses the connection, for reads and writes (BERTH_HOST too)', async () => {
    const created = await runCli(['service', 'create', 'web', '--cmd', 'x'], { env: { BERTH_HOST: `${dead},${stub.url}` } });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(stub.writes.length, 1, 'the create was sent once, to the server that answers');
    const listed = await runCli(['--host', `${dead}, ${stub.url}`, 'service', 'ls', '-q']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, 'web\n');
  });

  it('says which server answered in version', async () => {
    const r = await runCli(['--host', `${dead},${stub.url}`, 'version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`at ${stub.url.replace(/\./g, '\\.')}`));
  });

  it('names every server tried and why when none answers (exit 1)', async () => {
    const other = await deadServer();
    const r = await runCli(['--host', `${dead},${other}`, 'service', 'ls']);
    assert.equal(r.code, 1);
    const port = (url: string) => url.split(':')[2] ?? '';
    assert.equal(
      r.stderr,
      `error: cannot reach any of the berth servers ${dead} (connect ECONNREFUSED 127.0.0.1:${port(dead)}), ${other} (connect ECONNREFUSED 127.0.0.1:${port(other)}): start one with \`berth server\`, or point --host or BERTH_HOST at running servers\n`,
    );
  });

  it('events -f goes on from the next server when its server dies mid-stream, each event once, and says so', async () => {
    const event = (id: number) => JSON.stringify({ id, time: `2026-03-01T12:00:0${id}.000Z`, grid: 'default', service: 'web', type: 'service.scaled', severity: 'info', message: `event ${id}` });
    const servers: ReturnType<typeof createServer>[] = [];
    const listen = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
      const server = createServer(handler);
      servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const asked: string[] = [];
    // The first dies after two events, as a SIGKILLed server's connection breaks; the second has them too.
    const a = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' }).write(`${event(1)}\n${event(2)}\n`);
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const b = await listen((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(`${event(2)}\n${event(3)}\n`);
    });
    try {
      const r = await runCli(['--host', `${a},${b}`, 'service', 'events', 'web', '-f', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id), [1, 2, 3]);
      assert.deepEqual(asked, ['/v1/grids/default/services/web/events?follow=true&after=2']);
      assert.match(r.stderr, new RegExp(`^berth: the stream from ${a.replace(/\./g, '\\.')} broke \\(lost the connection mid-stream: [^)]+\\); it goes on from ${b.replace(/\./g, '\\.')}\n$`));
    } finally {
      for (const server of servers) {
        server.closeAllConnections();
        server.close();
      }
    }
  });

  it('refuses a list with an entry that is not a server URL (exit 2)', async () => {
    const r = await runCli(['--host', `${stub.url},ftp://x`, 'service', 'ls']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid --host \/ BERTH_HOST "ftp:\/\/x": only http:\/\/ and https:\/\/ are supported/);
  });

  it('suggests the other servers of the cluster when its one --host dies mid-command', async () => {
    // A control-plane server: its answers name the cluster's servers (api/leader-routing.ts). It dies
    // after its first answer, as a server killed while `service show` reads.
    const box = { url: '' };
    const server = createServer((req, res) => {
      req.resume();
      res.on('finish', () => {
        server.closeAllConnections();
        server.close();
      });
      res.writeHead(200, { 'content-type': 'application/json', 'berth-control-plane-servers': `${box.url},http://10.0.0.2:7420` }).end(JSON.stringify(service()));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    box.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await runCli(['--host', box.url, 'service', 'show', 'web']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`^error: cannot reach the berth server at ${box.url.replace(/\./g, '\\.')} \\(.+\\): start one with \`berth server\`, or point --host or BERTH_HOST at a running server; other servers of its cluster: http://10\\.0\\.0\\.2:7420 \\(--host http://10\\.0\\.0\\.2:7420, or several to try in turn: --host ${box.url.replace(/\./g, '\\.')},http://10\\.0\\.0\\.2:7420\\)\\n$`),
    );
  });
});
