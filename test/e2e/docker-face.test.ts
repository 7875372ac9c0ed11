/**
 * The Docker API face with the real docker 28 CLI against a real `berth server`: the transport (unix
 * socket 0600, tcp with berth's token in DOCKER_CONFIG's HttpHeaders), version negotiation, and the
 * system endpoints `docker version`, `docker info`, `docker node ls`, `docker network ls` print.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningBerth } from './harness.js';
import { freePort, startBerth, tempDir } from './harness.js';
import { dockerCli, dockerCliWith } from './docker-cli.js';

describe('Docker API face: the docker CLI against berth', () => {
  let berth: RunningBerth;
  let tcpHost: string;

  before(async () => {
    const dataDir = tempDir();
    const port = await freePort();
    tcpHost = `tcp://127.0.0.1:${port}`;
    berth = await startBerth({ dataDir, instanceRange: '127.11.74.0/24', dockerApi: [`unix://${join(dataDir, 'docker.sock')}`, tcpHost] });
  });
  after(async () => {
    await berth.stop();
    rmSync(berth.dataDir, { recursive: true, force: true });
  });

  it('prints both listeners at start, and GET /v1/version reports them', async () => {
    assert.deepEqual(berth.dockerHosts, [`unix://${join(berth.dataDir, 'docker.sock')}`, tcpHost]);
    assert.deepEqual((await berth.client.version()).dockerApi, berth.dockerHosts);
  });

  it('makes the socket 0600, owned by the server\'s user', () => {
    const st = statSync(join(berth.dataDir, 'docker.sock'));
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, process.getuid?.());
  });

  it('docker version: berth\'s version as the server\'s, API 1.50 negotiated', async () => {
    const r = await dockerCli(berth, 'version');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Server: berth$/m);
    assert.match(r.stdout, /^ Engine:\n {2}Version: +0\.1\.0$/m);
    assert.match(r.stdout, /^ {2}API version: +1\.50 \(minimum version 1\.24\)$/m);
    // The client kept its own newest version: nothing was downgraded.
    assert.match(r.stdout, /^ API version: +1\.50$/m);
    const json = await dockerCli(berth, 'version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}');
    assert.equal(json.stdout.trim(), '0.1.0 1.50 1.50');
  });

  it('docker info: an active swarm, this node its manager', async () => {
    const r = await dockerCli(berth, 'info');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ Swarm: active$/m);
    assert.match(r.stdout, /^ {2}Is Manager: true$/m);
    assert.match(r.stdout, /^ {2}Managers: 1$/m);
    assert.match(r.stdout, /^ {2}Nodes: 1$/m);
    assert.match(r.stdout, /^ Server Version: 0\.1\.0$/m);
    assert.match(r.stdout, /^ Operating System: berth 0\.1\.0 on /m);
    assert.doesNotMatch(r.stderr, /ERROR/);
  });

  it('docker node ls: this node, Ready, Active, Leader, marked as the one answering', async () => {
    const r = await dockerCli(berth, 'node', 'ls');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^ID +HOSTNAME +STATUS +AVAILABILITY +MANAGER STATUS +ENGINE VERSION$/);
    assert.equal(lines.length, 2, r.stdout);
    const { node } = await berth.client.version();
    assert.match(lines[1] ?? '', new RegExp(`^[0-9a-z]{25} \\* +${node} +Ready +Active +Leader +0\\.1\\.0$`));
    const inspect = await dockerCli(berth, 'node', 'inspect', 'self', '--format', '{{.Description.Hostname}} {{.Spec.Role}} {{.Status.Addr}}');
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.equal(inspect.stdout.trim(), `${node} manager 127.0.0.1`);
  });

  it('docker network ls: the berth network, swarm-scoped', async () => {
    const r = await dockerCli(berth, 'network', 'ls');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NETWORK ID +NAME +DRIVER +SCOPE\n[0-9a-z]{12} +berth +overlay +swarm\n$/);
  });

  it('an endpoint berth does not serve: Error response from daemon: page not found', async () => {
    const r = await dockerCli(berth, 'container', 'ls');
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error response from daemon: page not found');
  });

  it('a client pinned to an API version older than 1.24 is refused in moby\'s words', async () => {
    const r = await dockerCliWith({ host: berth.dockerHost!, env: { DOCKER_API_VERSION: '1.23' } }, 'info');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /client version 1\.23 is too old\. Minimum supported API version is 1\.24/);
  });

  it('tcp: works with berth\'s token in DOCKER_CONFIG\'s HttpHeaders, and is refused without it', async () => {
    const withToken = await dockerCliWith({ host: tcpHost, config: { HttpHeaders: { Authorization: `Bearer ${berth.token}` } } }, 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}');
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.equal(withToken.stdout.trim(), 'active true');
    const nodes = await dockerCliWith({ host: tcpHost, config: { HttpHeaders: { Authorization: `Bearer ${berth.token}` } } }, 'node', 'ls', '-q');
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /^[0-9a-z]{25}\n$/);

    const without = await dockerCliWith({ host: tcpHost }, 'node', 'ls');
    assert.equal(without.code, 1);
    assert.match(without.stderr, /^Error response from daemon: no bearer token: every request to berth needs `Authorization: Bearer <token>`/);
    const wrong = await dockerCliWith({ host: tcpHost, config: { HttpHeaders: { Authorization: `Bearer ${berth.token.slice(0, -2)}xx` } } }, 'node', 'ls');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /invalid bearer token/);
    // Negotiation stays open (ping is public): the version still shows without a token.
    const version = await dockerCliWith({ host: tcpHost }, 'version', '--format', '{{.Server.Version}}');
    assert.equal(version.stdout.trim(), '0.1.0');
  });

  it('`berth version` names the Docker API\'s listeners', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'berth'), '--host', berth.url, 'version'], { encoding: 'utf8', env: { ...process.env, BERTH_TOKEN: berth.token, BERTH_CONFIG: join(berth.dataDir, 'no-config'), NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Docker API: DOCKER_HOST=${escape(berth.dockerHosts[0] ?? '')}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^Docker API: DOCKER_HOST=${escape(tcpHost)}$`, 'm'));
  });
});

describe('Docker API face: the socket\'s life', () => {
  it('opens the default socket in the data directory, and removes it at stop', async () => {
    const berth = await startBerth({ instanceRange: '127.11.75.0/24', dockerApi: true });
    try {
      const path = join(berth.dataDir, 'docker.sock');
      assert.equal(berth.dockerHost, `unix://${path}`);
      assert.equal((await dockerCli(berth, 'version', '--format', '{{.Server.Platform.Name}}')).stdout.trim(), 'berth');
      await berth.stop();
      assert.equal(existsSync(path), false, 'the socket is removed at stop');
    } finally {
      await berth.stop();
      rmSync(berth.dataDir, { recursive: true, force: true });
    }
  });

  it('replaces a stale socket a crashed server left, and refuses one a live process listens on', async () => {
    const dataDir = tempDir();
    const path = join(dataDir, 'docker.sock');
    // A socket file no one listens on, as a SIGKILLed server leaves it (bound, never closed).
    const bound = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
    assert.equal(bound.status, 0, String(bound.stderr));
    const berth = await startBerth({ dataDir, instanceRange: '127.11.76.0/24', dockerApi: true });
    try {
      assert.equal((await dockerCli(berth, 'info', '--format', '{{.Swarm.LocalNodeState}}')).stdout.trim(), 'active');
    } finally {
      await berth.stop();
    }

    const live = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve) => live.listen(path, resolve));
    try {
      await assert.rejects(startBerth({ dataDir, instanceRange: '127.11.76.0/24', dockerApi: true }), /another process \(a berth server, or a Docker engine\) listens on .*docker\.sock/);
    } finally {
      await new Promise<void>((resolve) => live.close(() => resolve()));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a tcp listener off loopback without TLS, saying which flags give it', async () => {
    const dataDir = tempDir();
    try {
      await assert.rejects(
        startBerth({ dataDir, instanceRange: '127.11.76.0/24', dockerApi: ['tcp://0.0.0.0:0'] }),
        /--docker-api tcp:\/\/0\.0\.0\.0:0 is not a loopback address: the Docker API face needs TLS there .*--docker-api-tls-cert FILE and --docker-api-tls-key FILE/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('Docker API face: tcp with TLS and client certificates (dockerd\'s --tlsverify)', () => {
  it('serves a client whose certificate the CA signed (with a token), and refuses one without a certificate', async () => {
    const certs = tempDir('berth-docker-tls-');
    makeCertificates(certs);
    const port = await freePort();
    const host = `tcp://127.0.0.1:${port}`;
    const berth = await startBerth({
      instanceRange: '127.11.77.0/24',
      dockerApi: [host],
      args: ['--docker-api-tls-cert', join(certs, 'server.pem'), '--docker-api-tls-key', join(certs, 'server-key.pem'), '--docker-api-tls-ca', join(certs, 'ca.pem')],
    });
    try {
      assert.match(berth.stderr(), new RegExp(`^Docker API: DOCKER_HOST=${escape(host)} DOCKER_TLS_VERIFY=1 `, 'm'));
      // DOCKER_CERT_PATH as the docker CLI reads it: ca.pem, cert.pem, key.pem.
      const client = join(certs, 'client');
      const r = await dockerCliWith(
        { host, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: client }, config: { HttpHeaders: { Authorization: `Bearer ${berth.token}` } } },
        'info',
        '--format',
        '{{.Swarm.LocalNodeState}} {{.ServerVersion}}',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'active 0.1.0');

      // Without a client certificate the handshake itself fails: no request reaches a route.
      const refused = await new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: '/_ping', ca: readFileSync(join(certs, 'ca.pem')), servername: '127.0.0.1' }, (res) => resolve(`answered ${res.statusCode}`));
        req.on('error', (e) => resolve(`failed: ${e.message}`));
        req.end();
      });
      assert.match(refused, /^failed: .*(certificate|alert|socket hang up|ECONNRESET)/i);
    } finally {
      await berth.stop();
      rmSync(berth.dataDir, { recursive: true, force: true });
      rmSync(certs, { recursive: true, force: true });
    }
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signed, made with openssl (P-256, one day). */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=berth-test-ca');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('req', ...ec, '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'server.ext');
  mkdirSync(join(dir, 'client'));
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl('req', ...ec, '-keyout', 'client/key.pem', '-out', 'client.csr', '-subj', '/CN=berth-test-client');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'client/cert.pem', '-days', '1', '-extfile', 'client.ext');
  writeFileSync(join(dir, 'client', 'ca.pem'), readFileSync(join(dir, 'ca.pem')));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
