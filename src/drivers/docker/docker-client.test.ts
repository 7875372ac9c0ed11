import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasCode } from '../../lib/index.js';
import { dockerClient, dockerForTests } from './engine-gate.js';

/* Where dockerClient points (no engine needed), and what the tests' gate does when no engine answers. */

interface ModemView {
  socketPath?: string;
  host?: string;
  port?: number | string;
  protocol?: string;
}
const modemOf = (env: Record<string, string | undefined>): ModemView => (dockerClient(env) as unknown as { modem: ModemView }).modem;

describe('dockerClient', () => {
  it('uses /var/run/docker.sock when DOCKER_HOST is unset or empty', () => {
    assert.equal(modemOf({}).socketPath, '/var/run/docker.sock');
    assert.equal(modemOf({ DOCKER_HOST: '' }).socketPath, '/var/run/docker.sock');
  });

  it('uses the socket a unix:// DOCKER_HOST names', () => {
    assert.equal(modemOf({ DOCKER_HOST: 'unix:///run/podman/podman.sock' }).socketPath, '/run/podman/podman.sock');
  });

  it('speaks HTTP to a tcp:// DOCKER_HOST, on port 2375 when none is given', () => {
    assert.deepEqual(pick(modemOf({ DOCKER_HOST: 'tcp://127.0.0.1:12375' })), { host: '127.0.0.1', port: 12375, protocol: 'http' });
    assert.deepEqual(pick(modemOf({ DOCKER_HOST: 'tcp://docker.example' })), { host: 'docker.example', port: 2375, protocol: 'http' });
    assert.deepEqual(pick(modemOf({ DOCKER_HOST: 'tcp://[::1]:2375' })), { host: '::1', port: 2375, protocol: 'http' });
  });

  it('speaks HTTPS with the certificates of DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-docker-tls-'));
    try {
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), `-- ${f} --\n`);
      const env = { DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir };
      assert.deepEqual(pick(modemOf(env)), { host: '127.0.0.1', port: 2376, protocol: 'https' });
      rmSync(join(dir, 'key.pem'));
      assert.throws(() => dockerClient(env), (e: Error) => hasCode(e, 'DOCKER_HOST_INVALID') && e.message.includes(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses other shapes with DOCKER_HOST_INVALID naming the value and the accepted forms', () => {
    for (const host of ['ssh://me@box', 'npipe:////./pipe/docker_engine', 'unix://', 'unix://relative.sock', 'tcp://', 'tcp://h:1/path', '/var/run/docker.sock']) {
      assert.throws(
        () => dockerClient({ DOCKER_HOST: host }),
        (e: Error) => hasCode(e, 'DOCKER_HOST_INVALID') && e.message.includes(`"${host}"`) && e.message.includes('unix:///path/to/docker.sock or tcp://host:port'),
        host,
      );
    }
  });
});

function pick(m: ModemView): ModemView {
  return { host: m.host, port: Number(m.port), protocol: m.protocol };
}

describe('dockerForTests without an engine', () => {
  const saved = { DOCKER_HOST: process.env.DOCKER_HOST, CI: process.env.CI };
  const scratch = mkdtempSync(join(tmpdir(), 'berth-engine-gate-'));
  const servers: Server[] = [];
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    for (const s of servers) s.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Runs dockerForTests with DOCKER_HOST and CI as given; returns its outcome and what it wrote on stderr. */
  async function gate(dockerHost: string, ci: string | undefined): Promise<{ result: unknown; error?: Error; stderr: string }> {
    process.env.DOCKER_HOST = dockerHost;
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
    let stderr = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      return { result: await dockerForTests(), stderr };
    } catch (e) {
      return { result: undefined, error: e as Error, stderr };
    } finally {
      process.stderr.write = write;
    }
  }

  it('skips loudly outside CI when the socket does not exist', async () => {
    const host = `unix://${join(scratch, 'none.sock')}`;
    const { result, error, stderr } = await gate(host, undefined);
    assert.equal(error, undefined);
    assert.equal(result, undefined);
    assert.match(stderr, /^SKIP docker tests: the engine at unix:\/\/.*none\.sock did not answer: .*ENOENT.*\n$/);
  });

  it('fails in CI, saying the engine is required and why it did not answer', async () => {
    const { error, stderr } = await gate(`unix://${join(scratch, 'none.sock')}`, 'true');
    assert.match(error?.message ?? '', /Docker engine is required in CI.*ENOENT/);
    assert.equal(stderr, '');
  });

  it('gives up after 2 s on an engine that accepts and never answers', { timeout: 10_000 }, async () => {
    const server = createServer(() => {}); // accepts, reads nothing, answers nothing
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const t0 = performance.now();
    const { result, stderr } = await gate(`tcp://127.0.0.1:${port}`, undefined);
    const ms = performance.now() - t0;
    assert.equal(result, undefined);
    assert.match(stderr, /no answer from the engine at tcp:\/\/127\.0\.0\.1:\d+ within 2000 ms/);
    assert.ok(ms >= 1900 && ms < 4000, `gave up after ${ms.toFixed(0)} ms`);
  });

  it('fails in CI on a DOCKER_HOST it cannot use', async () => {
    const { error } = await gate('ssh://me@box', 'true');
    assert.match(error?.message ?? '', /required in CI.*DOCKER_HOST "ssh:\/\/me@box"/);
  });
});
