import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect, createServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';
import { resolveRequestTimeouts } from './request-timeouts.js';

/*
 * `--connect-timeout` and `--request-timeout` against servers that hang: one that accepts connections
 * and never answers (a stopped process: the kernel completes the handshake), and a stopped process
 * whose accept queue is full (the kernel drops the SYN: the connect itself hangs).
 */

/** A server in this process that takes connections and requests and never answers. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A node process listening with a backlog of 1, SIGSTOPped, its accept queue filled by connections of
 * ours: a new connect gets no SYN-ACK (Linux drops the SYN), as with a machine that is off.
 */
async function unconnectableServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['-e', "const s=require('net').createServer(()=>{});s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  child.kill('SIGSTOP');
  const fillers: Socket[] = [];
  for (let k = 0; k < 10; k++) {
    const socket = connect(port, '127.0.0.1');
    const connected = await Promise.race([once(socket, 'connect').then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300))]);
    if (!connected) {
      socket.destroy();
      break;
    }
    fillers.push(socket);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      for (const s of fillers) s.destroy();
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      child.kill('SIGCONT');
      await exited;
    },
  };
}

describe('--request-timeout: a server that accepts the connection and never answers', () => {
  const stub = new StubApi();
  let silent: Awaited<ReturnType<typeof silentServer>>;
  before(async () => {
    await stub.start();
    silent = await silentServer();
  });
  after(async () => {
    await silent.close();
    await stub.stop();
  });
  beforeEach(() => stub.reset());

  it('is left after the timeout for a read, which the next server answers', async () => {
    const started = Date.now();
    const r = await runCli(['--host', `${silent.url},${stub.url}`, '--request-timeout', '300ms', 'service', 'ls', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const took = Date.now() - started;
    assert.ok(took >= 300 && took < 10_000, `took ${took} ms`);
  });

  it('is named with the timeout when it is the only server (BERTH_REQUEST_TIMEOUT too)', async () => {
    const r = await runCli(['service', 'ls'], { env: { BERTH_HOST: silent.url, BERTH_REQUEST_TIMEOUT: '0.3' } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: cannot reach the berth server at ${silent.url} (no answer within 300 ms (request timeout)): start one with \`berth server\`, or point --host or BERTH_HOST at a running server\n`);
  });

  it('does not send a write on to the next server: it may have arrived', async () => {
    const r = await runCli(['--host', `${silent.url},${stub.url}`, '--request-timeout', '300ms', 'service', 'create', 'web', '--cmd', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /during POST \/v1\/grids\/default\/services \(no answer within 300 ms \(request timeout\)\), before it answered: the write may have been applied/);
    assert.equal(stub.writes.length, 0);
  });

  it('refuses a timeout that is not a duration: the flag and the environment', async () => {
    const flag = await runCli(['--host', stub.url, '--request-timeout', 'soon', 'service', 'ls']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--request-timeout <duration>' argument 'soon' is invalid/);
    const env = await runCli(['--host', stub.url, 'service', 'ls'], { env: { BERTH_CONNECT_TIMEOUT: 'soon' } });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /invalid BERTH_CONNECT_TIMEOUT "soon": expected seconds or a duration/);
  });
});

describe('--connect-timeout: a server that never accepts the connection', () => {
  const stub = new StubApi();
  let dead: Awaited<ReturnType<typeof unconnectableServer>>;
  before(async () => {
    await stub.start();
    dead = await unconnectableServer();
  });
  after(async () => {
    await dead.stop();
    await stub.stop();
  });
  beforeEach(() => stub.reset());

  it('is left after the connect timeout, for a write too: it certainly did not arrive', async () => {
    const started = Date.now();
    const r = await runCli(['--host', `${dead.url},${stub.url}`, '--connect-timeout', '300ms', 'service', 'create', 'web', '--cmd', 'x']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(stub.writes.length, 1, 'the create went to the second server, once');
    assert.ok(Date.now() - started < 10_000);
  });

  it('is named with the timeout when none answers', async () => {
    const r = await runCli(['service', 'ls'], { env: { BERTH_HOST: dead.url, BERTH_CONNECT_TIMEOUT: '250ms' } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: cannot reach the berth server at ${dead.url} (no connection within 250 ms (connect timeout)): start one with \`berth server\`, or point --host or BERTH_HOST at a running server\n`);
  });
});

describe('resolveRequestTimeouts', () => {
  it('takes the flag over the environment over the defaults, in ms; 0 is no limit', () => {
    assert.deepEqual(resolveRequestTimeouts({}, {}), { connectMs: 5000, requestMs: 30_000 });
    assert.deepEqual(resolveRequestTimeouts({}, { BERTH_CONNECT_TIMEOUT: '2s', BERTH_REQUEST_TIMEOUT: '1m' }), { connectMs: 2000, requestMs: 60_000 });
    assert.deepEqual(resolveRequestTimeouts({ connectTimeout: '500ms', requestTimeout: '0s' }, { BERTH_CONNECT_TIMEOUT: '2s', BERTH_REQUEST_TIMEOUT: '1m' }), { connectMs: 500, requestMs: 0 });
  });
});
