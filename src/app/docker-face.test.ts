import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasCode, silentLogger } from '../lib/index.js';
import { FakeTelemetry } from '../api/index.js';
import { openSqliteStore } from '../store/index.js';
import { claimSocketPath, dockerApiAddresses, dockerApiTls, parseDockerApiAddress, startDockerFace } from './docker-face.js';

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-face-'));
  after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('--docker-api addresses', () => {
  it('parses unix paths and tcp host:port, and refuses other shapes naming the value', () => {
    assert.deepEqual(parseDockerApiAddress('unix:///run/berth/docker.sock'), { kind: 'unix', path: '/run/berth/docker.sock' });
    assert.deepEqual(parseDockerApiAddress('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseDockerApiAddress('tcp://[::1]:0'), { kind: 'tcp', host: '::1', port: 0 });
    for (const bad of ['unix://relative.sock', 'tcp://127.0.0.1', 'tcp://127.0.0.1:70000', 'http://127.0.0.1:2375', '/run/docker.sock', 'npipe:////./pipe/docker']) {
      assert.throws(() => parseDockerApiAddress(bad), (e: Error) => hasCode(e, 'DOCKER_API_INVALID') && e.message.includes(`"${bad}"`), bad);
    }
  });

  it('takes the flags, else BERTH_DOCKER_API, else the socket in the data directory; off alone turns it off', () => {
    assert.deepEqual(dockerApiAddresses(undefined, {}, '/data'), [{ kind: 'unix', path: '/data/docker.sock' }]);
    assert.deepEqual(dockerApiAddresses([], { BERTH_DOCKER_API: 'tcp://127.0.0.1:2375, unix:///x.sock' }, '/data'), [
      { kind: 'tcp', host: '127.0.0.1', port: 2375 },
      { kind: 'unix', path: '/x.sock' },
    ]);
    assert.deepEqual(dockerApiAddresses(['unix:///y.sock'], { BERTH_DOCKER_API: 'off' }, '/data'), [{ kind: 'unix', path: '/y.sock' }]);
    assert.deepEqual(dockerApiAddresses(['off'], {}, '/data'), []);
    assert.deepEqual(dockerApiAddresses(undefined, { BERTH_DOCKER_API: 'off' }, '/data'), []);
    assert.throws(() => dockerApiAddresses(['off', 'unix:///y.sock'], {}, '/data'), (e: Error) => hasCode(e, 'DOCKER_API_INVALID'));
  });
});

describe('Docker API TLS', () => {
  it('needs no TLS on unix sockets and loopback tcp, and refuses a tcp listener elsewhere without it', () => {
    assert.equal(dockerApiTls([{ kind: 'unix', path: '/s' }, { kind: 'tcp', host: '127.0.0.1', port: 1 }, { kind: 'tcp', host: '::1', port: 1 }], {}), undefined);
    for (const host of ['0.0.0.0', '192.0.2.7', '::']) {
      assert.throws(
        () => dockerApiTls([{ kind: 'tcp', host, port: 2376 }], {}),
        (e: Error) => hasCode(e, 'DOCKER_API_TLS_REQUIRED') && /is not a loopback address: the Docker API face needs TLS there/.test(e.message),
        host,
      );
    }
  });

  it('refuses half a pair, a CA without a pair, and files that are not PEM', () => {
    const d = dir();
    writeFileSync(join(d, 'junk.pem'), 'not a certificate');
    const tcp = [{ kind: 'tcp', host: '192.0.2.7', port: 2376 }] as const;
    for (const files of [{ cert: join(d, 'junk.pem') }, { key: join(d, 'junk.pem') }, { ca: join(d, 'junk.pem') }, { cert: join(d, 'junk.pem'), key: join(d, 'junk.pem') }]) {
      assert.throws(() => dockerApiTls(tcp, files), (e: Error) => hasCode(e, 'TLS_CONFIG_INVALID'), JSON.stringify(files));
    }
  });
});

describe('the Docker API socket', () => {
  it('leaves an absent path alone, removes a stale socket, and refuses a live one or another file', async () => {
    const d = dir();
    await claimSocketPath(join(d, 'none.sock'));

    const stale = join(d, 'stale.sock');
    const bound = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stale]);
    assert.equal(bound.status, 0, String(bound.stderr));
    assert.ok(statSync(stale).isSocket());
    await claimSocketPath(stale);
    assert.equal(existsSync(stale), false);

    const live = join(d, 'live.sock');
    const server = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(live, resolve));
    after(() => server.close());
    await assert.rejects(claimSocketPath(live), (e: Error) => hasCode(e, 'DOCKER_API_IN_USE') && /listens on/.test(e.message));
    assert.ok(existsSync(live), 'a live socket is never removed');

    const file = join(d, 'file.sock');
    writeFileSync(file, 'mine');
    await assert.rejects(claimSocketPath(file), (e: Error) => hasCode(e, 'DOCKER_API_IN_USE') && /is not a socket/.test(e.message));
    assert.ok(existsSync(file));
  });

  it('opens the socket 0600, answers on it, and removes it when closed', async () => {
    const d = dir();
    const store = openSqliteStore(':memory:');
    after(() => store.close());
    const path = join(d, 'docker.sock');
    const face = await startDockerFace([{ kind: 'unix', path }, { kind: 'tcp', host: '127.0.0.1', port: 0 }], {
      deps: { store, authenticator: { authenticate: () => assert.fail('the socket needs no token') }, telemetry: new FakeTelemetry(), node: 'n', version: '1.2.3' },
      logger: silentLogger,
    });
    try {
      assert.equal(face.addresses[0], `unix://${path}`);
      assert.match(face.addresses[1] ?? '', /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const body = await new Promise<string>((resolve, reject) => {
        const c = net.connect({ path }, () => c.write('GET /v1.50/_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'));
        let text = '';
        c.on('data', (chunk) => (text += chunk.toString()));
        c.on('end', () => resolve(text));
        c.on('error', reject);
      });
      assert.match(body, /^HTTP\/1\.1 200 /);
      assert.match(body, /\r\napi-version: 1\.50\r\n/i);
      assert.match(body, /\r\n\r\nOK$/);
    } finally {
      await face.close();
    }
    assert.equal(existsSync(path), false);
  });
});
