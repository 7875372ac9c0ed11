import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../../src/client/index.js';
import type { ServiceEvent } from '../../src/model/index.js';
import type { EtcdCluster } from '../etcd-harness.js';
import { startEtcd } from '../etcd-harness.js';
import type { RunningAgent } from './agent-harness.js';
import { spawnAgent } from './agent-harness.js';
import { ROOT, tempDir, waitFor } from './harness.js';
import type { ControlPlaneServer, ControlPlaneOptions, RunningCli } from './control-plane-harness.js';
import { berth, roleOf, spawnBerth, spawnControlPlane, stopProc, tearDownCluster, untilLeads } from './control-plane-harness.js';

/*
 * What the CLI holds on to across the servers of a cluster (`--host B,A`): `logs -f` and `events -f`
 * followed through the server that is then SIGKILLed go on from the other with no line or event lost or
 * printed twice (a process prints a numbered line every 100 ms, so a gap or a repeat shows); a server
 * that is SIGSTOPped (it accepts connections and never answers) is left after --request-timeout; and a
 * followed stream whose every server died ends with an error naming each and why.
 */

const INSTANCE_RANGE = '127.11.100.0/24';
const AGENT_ADDRESS = '127.11.101.1';
// rangesFor(127.11.100.0/24) would derive the service and node-port ranges of 127.11.20.0/24's tests.
const RANGES = { BERTH_SERVICE_RANGE: '127.11.104.0/24', BERTH_NODE_PORT_RANGE: '32640-32659' };
const OPTIONS: ControlPlaneOptions = { instanceRange: INSTANCE_RANGE, leaseSeconds: 3, nodeGrace: '4s', env: RANGES };

/** A container that prints `line 1`, `line 2`, … every 100 ms. */
const COUNTER = {
  name: 'counter',
  replicas: 1,
  containers: [{ command: ['node', '-e', "let n = 0; setInterval(() => console.log('line ' + ++n), 100)"], workingDir: ROOT, stopGracePeriod: '1s' }],
  restartPolicy: { delay: '1s' },
};

/** The numbers each slot printed, in order, from `counter-2 | line 17` lines. */
function numbersBySlot(stdout: string): Map<string, number[]> {
  const bySlot = new Map<string, number[]>();
  for (const text of stdout.split('\n')) {
    const m = /^(counter-\d+)\s*\| line (\d+)$/.exec(text);
    if (!m) continue;
    const list = bySlot.get(m[1] as string) ?? [];
    list.push(Number(m[2]));
    bySlot.set(m[1] as string, list);
  }
  return bySlot;
}

/** The CLI's exit code once it exited, failing the test when it runs on past `ms`. */
async function exitOf(cli: RunningCli, ms = 20_000): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([cli.exited, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`berth still runs after ${ms} ms:\n${cli.stderr}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const printedEvents = (cli: RunningCli): ServiceEvent[] =>
  cli.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ServiceEvent);

void describe('the CLI over the servers of a cluster: followed streams move on, hung servers are left', () => {
  let etcd: EtcdCluster | undefined;
  const servers: ControlPlaneServer[] = [];
  const agents: RunningAgent[] = [];
  const dirs: string[] = [];
  const clis: RunningCli[] = [];
  let token = '';
  const client = (s: ControlPlaneServer): BerthClient => new BerthClient({ baseUrl: s.url, token });

  before(async () => {
    etcd = await startEtcd({ members: 1, portBase: 24100 });
    for (const name of ['a', 'b']) {
      const dir = tempDir('berth-follow-');
      dirs.push(dir);
      servers.push(await spawnControlPlane(name, dir, etcd, OPTIONS));
      if (name === 'a') await untilLeads(servers[0] as ControlPlaneServer);
    }
    token = readFileSync(join(dirs[0] as string, 'admin.token'), 'utf8').trim();
    const joinToken = (await client(servers[0] as ControlPlaneServer).createToken({ role: 'node', name: 'join' })).token;
    const dir = tempDir('berth-follow-agent-');
    dirs.push(dir);
    agents.push(await spawnAgent({ url: servers.map((s) => s.url).join(','), fingerprint: undefined }, 'follow-a', joinToken, dir, { address: AGENT_ADDRESS }));
  });

  after(async () => {
    for (const cli of clis) await stopProc(cli.proc, 'SIGKILL');
    for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGCONT');
    await tearDownCluster({ servers, agents, etcd, dirs, client: (s) => (token ? client(s) : undefined) });
  });

  it('logs -f and events -f through --host B,A go on from A when B is SIGKILLed: no line or event lost or printed twice', async (t) => {
    const [a, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    await client(a).createService('default', COUNTER, { deploy: true });
    await waitFor('counter running', async () => (await client(a).listInstances('default', 'counter', { active: true })).some((i) => i.status.state === 'running'), { timeoutMs: 30_000 }).catch(async (e: unknown) => {
      const why = await client(a).why('default', 'counter').catch(() => undefined);
      throw new Error(`${String(e)}\n${JSON.stringify(why, null, 1)}\nagent:\n${agents[0]?.stderr ?? ''}`);
    });
    const hosts = `${b.url},${a.url}`;
    const logs = spawnBerth(hosts, token, ['service', 'logs', 'counter', '-f', '--tail', '5']);
    const events = spawnBerth(hosts, token, ['service', 'events', 'counter', '-f', '-o', 'json']);
    clis.push(logs, events);
    await waitFor('10 numbered lines through b', () => (numbersBySlot(logs.stdout).get('counter-1')?.length ?? 0) >= 10, { timeoutMs: 20_000 });
    await client(a).scale('default', 'counter', 2);
    await waitFor('counter-2 prints through b', () => (numbersBySlot(logs.stdout).get('counter-2')?.length ?? 0) >= 5, { timeoutMs: 30_000 });
    await waitFor('the scale event through b', () => printedEvents(events).some((e) => e.type === 'service.scaled'), { timeoutMs: 10_000 });

    await stopProc(b.proc, 'SIGKILL');
    const atKill = Math.max(...(numbersBySlot(logs.stdout).get('counter-1') ?? [0]));
    const lastEventAtKill = Math.max(...printedEvents(events).map((e) => e.id));
    await client(a).scale('default', 'counter', 3);
    await waitFor('30 more lines of counter-1, and counter-3, through a', () => {
      const bySlot = numbersBySlot(logs.stdout);
      return Math.max(...(bySlot.get('counter-1') ?? [0])) >= atKill + 30 && (bySlot.get('counter-3')?.length ?? 0) >= 5;
    }, { timeoutMs: 30_000 });
    await waitFor('the second scale event through a', () => printedEvents(events).some((e) => e.type === 'service.scaled' && e.id > lastEventAtKill), { timeoutMs: 10_000 });
    for (const cli of [logs, events]) cli.proc.kill('SIGINT');
    assert.equal(await exitOf(logs), 0, logs.stderr);
    assert.equal(await exitOf(events), 0, events.stderr);

    const note = new RegExp(`berth: the stream from ${b.url.replace(/\./g, '\\.')} broke \\(lost the connection mid-stream: [^)]+\\); it goes on from ${a.url.replace(/\./g, '\\.')}`);
    assert.match(logs.stderr, note);
    assert.match(events.stderr, note);
    for (const [slot, numbers] of numbersBySlot(logs.stdout)) {
      const first = numbers[0] as number;
      assert.deepEqual(numbers, numbers.map((_, k) => first + k), `${slot}: every line once, in order (${numbers.join(' ')})`);
    }
    const printed = printedEvents(events).map((e) => e.id);
    const stored: number[] = [];
    for await (const e of client(a).events('default', 'counter')) stored.push(e.id);
    const first = printed[0] as number;
    const last = printed.at(-1) as number;
    assert.deepEqual(printed, stored.filter((id) => id >= first && id <= last), 'every event once, in order, across the kill');
    assert.ok(last > lastEventAtKill, 'events recorded after the kill were printed');
    t.diagnostic(`counter-1 printed lines ${numbersBySlot(logs.stdout).get('counter-1')?.[0]}–${Math.max(...(numbersBySlot(logs.stdout).get('counter-1') ?? []))} (killed at ${atKill}); events ${first}–${last} (killed after ${lastEventAtKill})`);
  });

  it('--request-timeout: a SIGSTOPped server is left for the next, and named when it is the only one; a SIGTERMed one hands its streams on', async () => {
    const a = servers[0] as ControlPlaneServer;
    const killed = servers[1] as ControlPlaneServer;
    await stopProc(killed.proc, 'SIGKILL');
    const b = await spawnControlPlane('b', killed.dataDir, etcd as EtcdCluster, OPTIONS);
    servers[1] = b;
    await waitFor('b follows again', async () => ((await roleOf(b.url)) === 'follower' ? true : undefined), { timeoutMs: 15_000 });
    b.proc.kill('SIGSTOP');
    try {
      const started = Date.now();
      const ps = await berth(`${b.url},${a.url}`, token, ['--request-timeout', '2s', 'service', 'ps', 'counter']);
      const took = Date.now() - started;
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /counter-3/);
      assert.ok(took >= 2000 && took < 15_000, `the stopped server was left after the 2 s timeout (took ${took} ms)`);
      const alone = await berth(b.url, token, ['--request-timeout', '2s', 'service', 'ls']);
      assert.equal(alone.code, 1);
      assert.equal(alone.stderr, `error: cannot reach the berth server at ${b.url} (no answer within 2 s (request timeout)): start one with \`berth server\`, or point --host or BERTH_HOST at a running server\n`);
      // A follow that starts on the stopped server (BERTH_REQUEST_TIMEOUT) goes to the next.
      const logs = spawnBerth(`${b.url},${a.url}`, token, ['service', 'logs', 'counter', '-f', '--tail', '1'], { BERTH_REQUEST_TIMEOUT: '2s' });
      clis.push(logs);
      await waitFor('lines through a', () => (numbersBySlot(logs.stdout).get('counter-1')?.length ?? 0) >= 3, { timeoutMs: 15_000 });
      logs.proc.kill('SIGINT');
      assert.equal(await exitOf(logs), 0, logs.stderr);
    } finally {
      b.proc.kill('SIGCONT');
    }
    // A server that stops (SIGTERM) ends the streams it serves with SERVER_STOPPING: they go on at a.
    await waitFor('b answers again', async () => ((await roleOf(b.url)) === 'follower' ? true : undefined), { timeoutMs: 15_000 });
    const events = spawnBerth(`${b.url},${a.url}`, token, ['service', 'events', 'counter', '-f', '-o', 'json', '--tail', '1']);
    clis.push(events);
    await waitFor('an event through b', () => printedEvents(events).length > 0, { timeoutMs: 15_000 });
    await stopProc(b.proc, 'SIGTERM');
    await waitFor('the note that the stream goes on from a', () => events.stderr.includes(`berth: the stream from ${b.url} broke (it is stopping (SERVER_STOPPING)); it goes on from ${a.url}`), { timeoutMs: 15_000 });
    const before = printedEvents(events).length;
    await client(a).scale('default', 'counter', 4);
    await waitFor('the scale event through a', () => printedEvents(events).slice(before).some((e) => e.type === 'service.scaled'), { timeoutMs: 15_000 });
    events.proc.kill('SIGINT');
    assert.equal(await exitOf(events), 0, events.stderr);
    const ids = printedEvents(events).map((e) => e.id);
    assert.deepEqual(ids, [...new Set(ids)].sort((x, y) => x - y), 'each event once, in order');
  });

  it('a followed stream whose every server died ends with exit 1, naming each server and why', async () => {
    const [a, b] = servers as [ControlPlaneServer, ControlPlaneServer];
    // No process may outlive the servers: the counter goes first.
    await client(a).removeService('default', 'counter');
    await waitFor('counter removed', async () => (await client(a).listServices('default')).length === 0, { timeoutMs: 30_000 });
    await client(a).createService('default', { name: 'quiet', replicas: 0, containers: [{ command: ['true'], workingDir: ROOT }] });
    const events = spawnBerth(`${b.url},${a.url}`, token, ['service', 'events', 'quiet', '-f', '-o', 'json']);
    clis.push(events);
    await waitFor('the create event through a', () => printedEvents(events).some((e) => e.type === 'service.created'), { timeoutMs: 15_000 });
    await stopProc(a.proc, 'SIGKILL');
    assert.equal(await exitOf(events), 1, events.stderr);
    const port = b.url.split(':')[2] ?? '';
    assert.match(events.stderr, new RegExp(`^error: cannot reach any of the berth servers ${a.url.replace(/\./g, '\\.')} \\(lost the connection mid-stream: [^)]+\\), ${b.url.replace(/\./g, '\\.')} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`));
  });
});
