import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Probe } from '../model/index.js';
import type { ProbeContext } from './probe-handlers.js';
import { boundOutput, MAX_PROBE_OUTPUT, runProbe } from './probe-handlers.js';
import { closedPort } from '../../test/closed-port.js';

const base = { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
const httpProbe = (path: string, port: number | string, headers: { name: string; value: string }[] = []): Probe => ({
  ...base,
  httpGet: { path, port, scheme: 'HTTP', httpHeaders: headers },
});
const never = new AbortController().signal;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}


void describe('runProbe', () => {
  let port = 0;
  let seen: IncomingHttpHeaders = {};
  const server = createServer((req, res) => {
    seen = req.headers;
    if (req.url === '/ok') res.end('fine');
    else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/unready') res.writeHead(503).end(`not ready: ${'x'.repeat(500)}`);
    else if (req.url === '/empty') res.writeHead(500).end();
    else if (req.url === '/hang') return; // never answers
    else res.writeHead(404).end('no such page');
  });
  const context = (): ProbeContext => ({ address: '127.0.0.1', resolvePort: (p) => (typeof p === 'number' ? p : p === 'http' ? port : undefined) });
  before(async () => {
    port = await listen(server);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  void it('passes an httpGet answered 2xx or 3xx, with the headers given, by port name', async () => {
    assert.deepEqual(await runProbe(httpProbe('/ok', 'http', [{ name: 'X-Probe', value: 'berth' }]), context(), 1000, never), { ok: true, output: 'HTTP 200' });
    assert.equal(seen['x-probe'], 'berth');
    assert.match(seen['user-agent'] ?? '', /^berth-probe\//);
    assert.deepEqual(await runProbe(httpProbe('/moved', port), context(), 1000, never), { ok: true, output: 'HTTP 302' });
  });

  void it('fails an httpGet answered 4xx or 5xx, showing the status and the first 200 bytes of the body', async () => {
    const unready = await runProbe(httpProbe('/unready', port), context(), 1000, never);
    assert.equal(unready.ok, false);
    assert.equal(unready.output, `HTTP 503: not ready: ${'x'.repeat(189)}`);
    assert.deepEqual(await runProbe(httpProbe('/empty', port), context(), 1000, never), { ok: false, output: 'HTTP 500' });
    assert.deepEqual(await runProbe(httpProbe('/nope', port), context(), 1000, never), { ok: false, output: 'HTTP 404: no such page' });
  });

  void it('fails an httpGet that is not answered within the timeout', async () => {
    const began = performance.now();
    const outcome = await runProbe(httpProbe('/hang', port), context(), 200, never);
    const took = performance.now() - began;
    assert.deepEqual(outcome, { ok: false, output: 'timed out after 200ms' });
    assert.ok(took >= 190 && took < 1000, `took ${took.toFixed(0)} ms`);
  });

  void it('fails with the connect error when nothing listens, and names an unknown port name', async () => {
    const closed = await closedPort();
    const refused = await runProbe(httpProbe('/', closed), context(), 1000, never);
    assert.deepEqual(refused, { ok: false, output: `connect ECONNREFUSED 127.0.0.1:${closed}` });
    const unknown = await runProbe(httpProbe('/', 'metrics'), context(), 1000, never);
    assert.deepEqual(unknown, { ok: false, output: 'the container has no port named "metrics"' });
  });

  void it('uses the probe host when given, the instance address otherwise', async () => {
    const elsewhere = { address: '127.0.0.99', resolvePort: () => port };
    const viaHost = await runProbe({ ...base, httpGet: { path: '/ok', port, host: '127.0.0.1', scheme: 'HTTP', httpHeaders: [] } }, elsewhere, 1000, never);
    assert.equal(viaHost.ok, true);
    const viaAddress = await runProbe(httpProbe('/ok', port), elsewhere, 1000, never);
    assert.equal(viaAddress.ok, false, 'nothing listens on 127.0.0.99');
  });

  void it('passes a tcpSocket probe when the connect completes and fails it when refused', async () => {
    const tcp = (p: number): Probe => ({ ...base, tcpSocket: { port: p } });
    assert.deepEqual(await runProbe(tcp(port), context(), 1000, never), { ok: true, output: `connected to 127.0.0.1:${port}` });
    const closed = await closedPort();
    assert.deepEqual(await runProbe(tcp(closed), context(), 1000, never), { ok: false, output: `connect ECONNREFUSED 127.0.0.1:${closed}` });
  });

  void it('runs an exec probe through the driver: exit 0 passes, other codes fail with their output', async () => {
    const exec: Probe = { ...base, exec: { command: ['pg_isready', '-q'] } };
    const calls: (readonly string[])[] = [];
    const withExit = (exitCode: number, output: string, timedOut = false): ProbeContext => ({
      ...context(),
      exec: async (argv) => {
        calls.push(argv);
        return { exitCode, output, timedOut };
      },
    });
    assert.deepEqual(await runProbe(exec, withExit(0, 'accepting connections\n'), 1000, never), { ok: true, output: 'accepting connections' });
    assert.deepEqual(calls[0], ['pg_isready', '-q']);
    assert.deepEqual(await runProbe(exec, withExit(2, 'no response\n'), 1000, never), { ok: false, output: 'exit 2: no response' });
    assert.deepEqual(await runProbe(exec, withExit(137, '', true), 1000, never), { ok: false, output: 'timed out after 1s' });
    assert.deepEqual(await runProbe(exec, context(), 1000, never), { ok: false, output: 'this driver cannot run exec probes' });
  });

  void it('ends a run whose driver exec hangs at the timeout, and at once when aborted', async () => {
    const exec: Probe = { ...base, exec: { command: ['sleep', '100'] } };
    const hangs: ProbeContext = { ...context(), exec: () => new Promise(() => {}) };
    assert.deepEqual(await runProbe(exec, hangs, 100, never), { ok: false, output: 'timed out after 100ms' });
    const abort = new AbortController();
    const pending = runProbe(exec, hangs, 60_000, abort.signal);
    abort.abort(new Error('prober stopped'));
    assert.deepEqual(await pending, { ok: false, output: 'prober stopped' });
  });

  void it('bounds outputs to 1 KiB without cutting a character in two', () => {
    assert.equal(boundOutput('short'), 'short');
    const long = 'é'.repeat(MAX_PROBE_OUTPUT); // 2 bytes each
    const cut = boundOutput(long);
    assert.equal(Buffer.byteLength(cut), MAX_PROBE_OUTPUT);
    assert.equal(boundOutput(`a${long}`), `a${'é'.repeat(MAX_PROBE_OUTPUT / 2 - 1)}`);
  });
});
