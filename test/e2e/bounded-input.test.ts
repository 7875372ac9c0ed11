import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Service } from '../../src/model/index.js';
import { queryMessage, summarize, tcpExchange, udpExchange } from '../../src/dns/testing/dns-fixtures.js';
import { startFakeUpstream } from '../../src/dns/testing/fake-upstream.js';
import type { FakeUpstream } from '../../src/dns/testing/fake-upstream.js';
import { tcpFuzz, udpFuzz } from '../../src/dns/testing/fuzz-packets.js';
import { BIN, cleanup, startBerth, tempDir, waitFor, type RunningBerth, cliEnv } from './harness.js';
import { echoSpec } from './programs.js';

/*
 * Bounded input against the real `berth server`: a replica count past the limit stored in its database
 * (as an older berth, or a hand edit, would leave it) no longer keeps the server from starting; hostile
 * HTTP bodies and 20,000 malformed DNS packets leave it answering.
 */

const execFileAsync = promisify(execFile);

/** Resident memory of a process, in MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function cli(berth: RunningBerth, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, '--host', berth.url, ...args], { env: { ...process.env, NO_COLOR: '1', ...cliEnv(berth.url) } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Writes `replicas` into a service's stored spec and deployment, as a direct edit of the database does. */
function storeReplicas(dataDir: string, name: string, replicas: number): void {
  const db = new Database(join(dataDir, 'berth.db'));
  try {
    const row = db.prepare('SELECT json FROM services WHERE grid = ? AND name = ?').get('default', name) as { json: string };
    const service = JSON.parse(row.json) as { spec: { replicas: number }; deployment: { spec: { replicas: number } } };
    service.spec.replicas = replicas;
    service.deployment.spec.replicas = replicas;
    db.prepare('UPDATE services SET json = ? WHERE grid = ? AND name = ?').run(JSON.stringify(service), 'default', name);
  } finally {
    db.close();
  }
}

const running = (berth: RunningBerth, name: string, n: number) =>
  waitFor(`${n} of ${name} running`, async () => (await berth.client.listInstances('default', name, { active: true })).filter((i) => i.status.state === 'running').length === n, { timeoutMs: 20_000 });

describe('a stored spec past the limits (real server, database edited between runs)', () => {
  it('starts, serves the API, marks only that service failed with the reason, and allocates nothing by the bad value', async () => {
    const dataDir = tempDir();
    const range = '127.11.61.0/24';
    const first = await startBerth({ dataDir, instanceRange: range });
    await first.client.createService('default', echoSpec('big', 2), { deploy: true });
    await first.client.createService('default', echoSpec('small', 1), { deploy: true });
    await running(first, 'big', 2);
    await running(first, 'small', 1);
    const baseline = rssMiB(first.proc.pid as number);
    await first.stop();

    storeReplicas(dataDir, 'big', 99_999_999);

    const second = await startBerth({ dataDir, instanceRange: range });
    try {
      const failed = await waitFor('big marked failed', async () => {
        const s = await second.client.getService('default', 'big');
        return s.status.phase === 'failed' ? s : undefined;
      });
      assert.match(failed.status.message, /cannot run generation 1: spec\.replicas: Invalid value: 99999999: must be an integer from 0 to 1000/);
      const rss = rssMiB(second.proc.pid as number);
      assert.ok(rss < Math.max(400, baseline * 2), `the server holds ${rss.toFixed(0)} MiB (before: ${baseline.toFixed(0)} MiB)`);

      // The rest of the server works: the other service still runs, a new one is created and runs.
      await running(second, 'small', 1);
      await second.client.createService('default', echoSpec('fresh', 1), { deploy: true });
      await running(second, 'fresh', 1);
      assert.equal((await second.client.listInstances('default', 'big', { active: true })).length, 2, 'big\'s instances are left as they were');

      const show = await cli(second, 'service', 'show', 'big');
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /failed \(\d+\/99999999 instances running\) — cannot run generation 1: spec\.replicas/);
      const why = await cli(second, 'service', 'why', 'big');
      assert.match(why.stdout, /big cannot run: cannot run generation 1: spec\.replicas: Invalid value: 99999999/);
      const events = [];
      for await (const e of second.client.events('default', 'big')) events.push(e);
      assert.equal(events.filter((e) => e.type === 'service.unrunnable').length, 1, 'said once');
      const deploy = await cli(second, 'service', 'deploy', 'big');
      assert.notEqual(deploy.code, 0);
      assert.match(deploy.stderr, /spec\.replicas: Invalid value: 99999999/);

      // Scaling within the limit brings it back.
      await second.client.scale('default', 'big', 1);
      await waitFor('big running again', async () => (await second.client.getService('default', 'big')).status.phase === 'running', { timeoutMs: 20_000 });
      assert.ok(rssMiB(second.proc.pid as number) < Math.max(400, baseline * 2));
    } finally {
      await cleanup(second);
    }
  });

  it('takes its replica limit from --max-replicas (and BERTH_MAX_REPLICAS), and refuses a bad one at start', async () => {
    const berth = await startBerth({ instanceRange: '127.11.62.0/24', args: ['--max-replicas', '3'], env: { BERTH_MAX_REPLICAS: '50' } });
    try {
      const over = await cli(berth, 'service', 'create', 'many', '--instances', '4', '--cmd', 'sleep 1000');
      assert.notEqual(over.code, 0);
      assert.match(over.stderr, /spec\.replicas: Invalid value: 4: must be an integer from 0 to 3/);
      assert.deepEqual(await berth.client.listServices('default'), []);
    } finally {
      await cleanup(berth);
    }
    await assert.rejects(startBerth({ instanceRange: '127.11.62.0/24', env: { BERTH_MAX_REPLICAS: 'lots' } }), /BERTH_MAX_REPLICAS must be a whole number from 1 to 100000, got "lots"/);
  });
});

describe('hostile input at the real server\'s sockets', () => {
  let berth: RunningBerth;
  let upstream: FakeUpstream;
  let dnsPort: number;
  const post = (path: string, body: string, contentType = 'application/json') =>
    fetch(`${berth.url}${path}`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${berth.token}` }, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as { code: string; message: string } }));

  before(async () => {
    // Names outside berth's zone (some fuzz packets are valid queries for example.org) go to a loopback fake.
    upstream = await startFakeUpstream(() => ({ type: 'response', flags: 0x8180 }));
    berth = await startBerth({ instanceRange: '127.11.63.0/24', env: { BERTH_DNS_UPSTREAMS: `127.0.0.1:${upstream.port}` } });
    const dns = (await berth.client.version()).dns;
    assert.ok(dns);
    dnsPort = Number(dns.split(':')[1]);
    await berth.client.createService('default', echoSpec('web', 1), { deploy: true });
  });
  after(async () => {
    await cleanup(berth);
    await upstream.close();
  });

  it('answers 4xx to bodies nested 200,000 deep, over 1 MiB, of another type, or asking for 99,999,999 replicas — and stays up and small', async () => {
    const pid = berth.proc.pid as number;
    const before = rssMiB(pid);
    const deep = await post('/v1/grids/default/services', `{"spec":${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    assert.deepEqual([deep.status, deep.body.code], [400, 'REQUEST_INVALID']);
    assert.match(deep.body.message, /nested deeper than 32 levels/);
    const huge = await post('/v1/grids/default/services', JSON.stringify({ spec: { name: 'x', labels: { a: 'x'.repeat(3 * 1024 * 1024) } } }));
    assert.deepEqual([huge.status, huge.body.code], [413, 'BODY_TOO_LARGE']);
    const text = await post('/v1/grids/default/services/web/scale', '{"replicas": 2}', 'text/plain');
    assert.deepEqual([text.status, text.body.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    assert.match(text.body.message, /application\/json/);
    const proto = await post('/v1/grids/default/services', '{"spec":{"name":"p","__proto__":{"replicas":5},"containers":[{"command":["x"]}]}}');
    assert.deepEqual([proto.status, proto.body.code], [400, 'REQUEST_INVALID']);
    assert.match(proto.body.message, /^spec\.__proto__: a key named "__proto__" is refused/);
    const scale = await post('/v1/grids/default/services/web/scale', '{"replicas": 99999999}');
    assert.deepEqual([scale.status, scale.body.code], [400, 'REQUEST_INVALID']);
    const create = await post('/v1/grids/default/services', JSON.stringify({ spec: { name: 'huge', replicas: 1e9, containers: [{ command: ['x'] }] } }));
    assert.deepEqual([create.status, create.body.code], [400, 'SPEC_INVALID']);

    const services = await berth.client.listServices('default');
    assert.deepEqual(services.map((s: Service) => [s.name, s.spec.replicas]), [['web', 1]], 'nothing was stored');
    assert.equal((await berth.client.version()).apiVersion, 'v1');
    assert.ok(rssMiB(pid) < before + 200, `RSS ${rssMiB(pid).toFixed(0)} MiB (was ${before.toFixed(0)})`);
  });

  it('still answers DNS and the API after 10,000 malformed UDP packets and 10,000 malformed TCP frames', { timeout: 120_000 }, async () => {
    const vip = (await berth.client.getService('default', 'web')).spec.clusterIP;
    const udpReplies = await udpFuzz(dnsPort, { count: 10_000, seed: 7 });
    const tcp = await tcpFuzz(dnsPort, { count: 10_000, seed: 8 });
    assert.equal(tcp.frames, 10_000);
    assert.ok(udpReplies > 0 && tcp.replies > 0, `answered some (${udpReplies} UDP, ${tcp.replies} TCP replies)`);
    assert.equal(berth.proc.exitCode, null, 'the server is still running');
    const overUdp = summarize((await udpExchange(dnsPort, queryMessage('web.default.berth.local', 'A'), 2000)) as Buffer);
    assert.deepEqual(overUdp.answers, [`A ${vip}`]);
    const [overTcp] = await tcpExchange(dnsPort, [queryMessage('web.default.berth.local', 'A')]);
    assert.deepEqual(summarize(overTcp as Buffer).answers, [`A ${vip}`]);
    assert.equal((await berth.client.getService('default', 'web')).name, 'web');
  });
});

