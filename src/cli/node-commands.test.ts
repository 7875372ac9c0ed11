import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { newInstance } from '../api/testing/fixtures.js';
import { serveRealApi } from '../../test/real-api.js';
import { parseServiceSpec } from '../model/index.js';
import { openSqliteStore } from '../store/index.js';
import type { SqliteStore } from '../store/index.js';
import { runCli } from './testing/run-cli.js';

/* `berth node ls|show|update|rm` against the real API (in-process, on a loopback port). */

describe('berth node (real API)', () => {
  let store: SqliteStore;
  let app: FastifyInstance;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    store = openSqliteStore(':memory:');
    const now = new Date().toISOString();
    store.upsertNode({ name: 'n1', address: '10.0.0.1', drivers: ['process', 'docker'], labels: { zone: 'a' }, os: 'linux', arch: 'x86_64', capacity: { cpus: 2, memoryBytes: 4 * 1024 ** 3 }, ready: true, heartbeatAt: now });
    store.upsertNode({ name: 'n2', address: '10.0.0.2', drivers: ['process'], ready: false, heartbeatAt: now });
    store.applyControllerWrites({ createInstances: [newInstance({ node: 'n1', slot: 1 })] });
    ({ app, env } = await serveRealApi({ store }));
  });
  after(async () => {
    await app?.close();
  });

  it('ls lists status, availability, address, drivers and labels', async () => {
    const r = await runCli(['node', 'ls'], { env });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+STATUS\s+AVAILABILITY\s+ADDRESS\s+DRIVERS\s+LABELS$/);
    assert.match(lines[1] ?? '', /^n1\s+Ready\s+active\s+10\.0\.0\.1\s+process,docker\s+zone=a$/);
    assert.match(lines[2] ?? '', /^n2\s+Down\s+active\s+10\.0\.0\.2\s+process\s+<none>$/);
    const json = await runCli(['node', 'ls', '-o', 'json'], { env });
    assert.deepEqual((JSON.parse(json.stdout) as { name: string }[]).map((n) => n.name), ['n1', 'n2']);
  });

  it('show prints the node and its instances', async () => {
    const r = await runCli(['node', 'show', 'n1'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Availability:\s+active/);
    assert.match(r.stdout, /Capacity:\s+2 CPUs, 4(\.0)? ?GiB memory/);
    assert.match(r.stdout, /Labels:\s+zone=a/);
    assert.match(r.stdout, /default\s+web\s+1\s+web-1-/);
    const missing = await runCli(['node', 'show', 'nope'], { env });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /node "nope" not found/);
  });

  it('update sets availability and labels; refuses a bad value and an empty change', async () => {
    const r = await runCli(['node', 'update', 'n1', '--availability', 'drain', '--label-add', 'disk=ssd', '--label-rm', 'zone'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /node\/n1 updated: availability drain, labels disk=ssd/);
    assert.equal(store.getNode('n1')?.availability, 'drain');
    assert.deepEqual(store.getNode('n1')?.labels, { disk: 'ssd' });
    const bad = await runCli(['node', 'update', 'n1', '--availability', 'sleep'], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /active, pause, drain/);
    const empty = await runCli(['node', 'update', 'n1'], { env });
    assert.notEqual(empty.code, 0);
    assert.match(empty.stderr, /nothing to change/);
  });

  it('join-token prints the command to run on the new machine, and that it needs --address there', async () => {
    const r = await runCli(['node', 'join-token'], { env });
    assert.equal(r.code, 0, r.stderr);
    const token = /--token (\S+)/.exec(r.stdout)?.[1];
    assert.ok(token?.startsWith('berth_'), r.stdout);
    assert.match(r.stdout, new RegExp(`^To add a machine as a node of this server, run on it:\n\n {4}berth agent --join ${env['BERTH_HOST']} --token ${token}\n\nwith --address IP where other machines reach it`));
    const quiet = await runCli(['node', 'join-token', '-q'], { env });
    assert.match(quiet.stdout, /^berth_\S+\n$/);
  });

  it('service ps marks the instances of a down node (their state is the last its agent reported), and those whose slot waits for it', async () => {
    const svc = store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'spread', replicas: 2, containers: [{ command: ['x'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ service: 'spread', serviceId: svc.id, node: 'n1', slot: 1, id: 'spread-1-a' }), newInstance({ service: 'spread', serviceId: svc.id, node: 'n2', slot: 2, id: 'spread-2-b' })] });
    const r = await runCli(['service', 'ps', 'spread'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^spread-1\s+spread-1-a\s+\S+\s+\S+\s+running\s+n1\s/m);
    assert.match(r.stdout, /^spread-2\s+spread-2-b\s+\S+\s+\S+\s+running\s+n2 \(down; slot waits for it\)\s/m);
    // Replaced elsewhere (desired shutdown): it stops when the agent returns; nothing waits for the node.
    store.applyControllerWrites({ setDesired: [{ id: 'spread-2-b', desiredState: 'shutdown', reason: 'node n2 is down: replaced on another node' }] });
    const fenced = await runCli(['service', 'ps', 'spread'], { env });
    assert.match(fenced.stdout, /^spread-2\s+spread-2-b\s+\S+\s+\S+\s+shutdown\s+n2 \(down\)\s/m);
  });

  it('service ps shows NODE on a cluster of several nodes even when every instance is on one', async () => {
    const svc = store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'one', replicas: 1, containers: [{ command: ['x'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ service: 'one', serviceId: svc.id, node: 'n1', slot: 1, id: 'one-1-a' })] });
    const r = await runCli(['service', 'ps', 'one'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+ID\s+STATE\s+HEALTH\s+DESIRED\s+NODE\s+ADDRESS/);
    assert.match(r.stdout, /^one-1\s+one-1-a\s+\S+\s+\S+\s+running\s+n1\s/m);
  });

  it('service ps marks the instances of a removed node', async () => {
    const svc = store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'gone', replicas: 2, containers: [{ command: ['x'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ service: 'gone', serviceId: svc.id, node: 'n1', slot: 1, id: 'gone-1-a' }), newInstance({ service: 'gone', serviceId: svc.id, node: 'n9', slot: 2, id: 'gone-2-b' })] });
    const r = await runCli(['service', 'ps', 'gone'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^gone-1\s+gone-1-a\s+\S+\s+\S+\s+running\s+n1\s/m);
    assert.match(r.stdout, /^gone-2\s+gone-2-b\s+\S+\s+\S+\s+running\s+n9 \(removed\)\s/m);
  });

  it('service rm says which instances it waits for on a down node, and how to end the wait', async () => {
    const svc = store.createService({ grid: 'default', spec: parseServiceSpec({ name: 'held', replicas: 1, containers: [{ command: ['x'] }] }), deploy: true });
    store.applyControllerWrites({ createInstances: [newInstance({ service: 'held', serviceId: svc.id, node: 'n2', slot: 1, id: 'held-1-a' })] });
    const r = await runCli(['service', 'rm', '--force', 'held', '--timeout', '1s'], { env });
    assert.notEqual(r.code, 0, 'the instance on the down node never stops here');
    assert.match(r.stderr, /held-1 on node n2, which is down: the removal waits until its agent returns and stops them, or `berth node rm --force n2` if it will not \(--no-wait returns now\)/);
  });

  it('service rm of services that are gone at once (never deployed) exits 0, on a cluster with nodes', async () => {
    for (const name of ['fresh1', 'fresh2']) store.createService({ grid: 'default', spec: parseServiceSpec({ name, replicas: 1, containers: [{ command: ['x'] }] }), deploy: false });
    // The controller's part: a service with no instance is deleted as soon as its removal is asked.
    const controller = store.watch(store.revision(), (e) => {
      if (e.kind !== 'service' || e.op !== 'put' || !e.object.name.startsWith('fresh') || e.object.desired !== 'removing') return;
      const name = e.object.name;
      queueMicrotask(() => store.applyControllerWrites({ deleteServices: [{ grid: 'default', name }] }));
    });
    const r = await runCli(['service', 'rm', '--force', 'fresh1', 'fresh2'], { env }).finally(() => void controller.dispose());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'removing fresh1\nremoving fresh2\nservice fresh1 removed\nservice fresh2 removed\n');
  });

  it('rm removes a down node and refuses a ready one without --force', async () => {
    const refused = await runCli(['node', 'rm', 'n1'], { env });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is not down.*--force/);
    const r = await runCli(['node', 'rm', 'n2'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'node/n2 removed\n');
    assert.deepEqual(store.listNodes().map((n) => n.name), ['n1']);
  });
});
