import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { RunningBerth } from './harness.js';
import type { RunningAgent } from './agent-harness.js';
import { freePortAt, killAgent, runBerth, spawnAgent, tearDownAgents } from './agent-harness.js';
import { BIN, cliEnv, startBerth, tempDir, waitFor } from './harness.js';

/*
 * Logs and stats of instances on other machines (docs/node-telemetry.md): an all-in-one server and two
 * agents on loopback addresses of their own, each with its telemetry listener; the server reads their
 * instances' logs and stats there, merges them with its own node's, and names a node whose agent is gone.
 */

const ADDRESSES = { 'vm-a': '127.11.31.2', 'vm-b': '127.11.31.3' } as const;

/** `berth ARGS` as a user runs it: exit code, stdout and stderr (a warning goes to stderr). */
function cli(berth: RunningBerth, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, '--host', berth.url, ...args], { env: { ...process.env, ...cliEnv(berth.url), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A program that says hello once, then ticks every 300 ms, each line naming its slot. */
const talker = (name: string, replicas: number, constraints: string[]) => ({
  name,
  replicas,
  containers: [{ command: ['sh', '-c', 'echo "hello from slot $BERTH_SLOT"; n=0; while sleep 0.3; do n=$((n+1)); echo "tick $n of slot $BERTH_SLOT"; done'], stopGracePeriod: '1s' }],
  ...(constraints.length > 0 ? { placement: { constraints } } : {}),
});

describe('logs and stats of instances on the agents\' nodes (telemetry listeners)', () => {
  let berth: RunningBerth;
  let serverNode: string;
  const agents: RunningAgent[] = [];
  const ports: Record<string, number> = {};
  const dirs: string[] = [];

  before(async () => {
    berth = await startBerth({ instanceRange: '127.11.32.0/24', args: ['--node-grace', '2s'] });
    serverNode = (await berth.client.version()).node;
    const joinToken = (await berth.client.createToken({ role: 'node', name: 'join' })).token;
    for (const [name, address] of Object.entries(ADDRESSES)) {
      const dir = tempDir('berth-agent-');
      dirs.push(dir);
      ports[name] = await freePortAt(address);
      agents.push(await spawnAgent(berth, name, joinToken, dir, { address, args: ['--telemetry-port', String(ports[name])] }));
    }
    // Two on the agents' nodes (one each: spread), and one service over all three nodes.
    await berth.client.createService('default', talker('talk', 2, [`node.hostname!=${serverNode}`]), { deploy: true });
    await berth.client.createService('default', talker('mixed', 3, []), { deploy: true });
    for (const [service, count] of [['talk', 2], ['mixed', 3]] as const) {
      await waitFor(`${count} running instances of ${service}`, async () => (await berth.client.listInstances('default', service, { active: true })).filter((i) => i.status.state === 'running').length === count, { timeoutMs: 30_000 });
    }
  });

  after(() => tearDownAgents(berth, agents, dirs));

  it('registers each agent\'s telemetry listener and its certificate\'s fingerprint as facts of its node (berth node show)', async () => {
    const shown = await runBerth(berth, ['node', 'show', 'vm-a']);
    // Over HTTPS: the agent reported its certificate's fingerprint, which the server pins (docs/node-telemetry.md, "TLS").
    assert.match(shown, new RegExp(`Telemetry:\\s+127\\.11\\.31\\.2:${ports['vm-a']} \\(https, certificate SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\\)`));
    const own = await runBerth(berth, ['node', 'show', serverNode]);
    assert.match(own, /Telemetry:\s+in-process/);
  });

  it("berth service logs shows every instance's lines from the agents' nodes, and from the server's own node, in time order", async () => {
    const talk = await berth.client.listInstances('default', 'talk', { active: true });
    assert.deepEqual(talk.map((i) => i.node).sort(), ['vm-a', 'vm-b'], 'one instance on each agent\'s node');
    const out = await waitFor('both hellos of talk', async () => {
      const r = await cli(berth, ['service', 'logs', 'talk', '--tail', '1000']);
      return r.code === 0 && /talk-1 \| hello from slot 1/.test(r.stdout) && /talk-2 \| hello from slot 2/.test(r.stdout) ? r : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(out.stderr, '', 'no node is missing');
    const mixed = await berth.client.listInstances('default', 'mixed', { active: true });
    assert.deepEqual(new Set(mixed.map((i) => i.node)), new Set([serverNode, 'vm-a', 'vm-b']));
    const lines: { time: string; slot: number; text: string }[] = [];
    await waitFor('the hellos of the three nodes', async () => {
      lines.length = 0;
      for await (const l of berth.client.logs('default', 'mixed', {})) lines.push(l);
      return [1, 2, 3].every((slot) => lines.some((l) => l.text === `hello from slot ${slot}`));
    }, { timeoutMs: 10_000 });
    assert.ok(lines.every((l, k) => k === 0 || l.time >= (lines[k - 1] as { time: string }).time), 'merged in time order');
    const tail = [];
    for await (const l of berth.client.logs('default', 'mixed', { tail: 4 })) tail.push(l);
    assert.equal(tail.length, 4, 'the tail of the merged stream');
  });

  it('berth service logs --follow shows lines written after it started, from both agents\' nodes', async () => {
    const proc = spawn(process.execPath, [BIN, '--host', berth.url, 'service', 'logs', 'talk', '--follow', '--tail', '0'], { env: { ...process.env, ...cliEnv(berth.url), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    try {
      // --tail 0: no history, so every line shown was written while following.
      await waitFor('ticks of both slots', () => /talk-1 \| tick \d+ of slot 1/.test(out) && /talk-2 \| tick \d+ of slot 2/.test(out), { timeoutMs: 10_000 });
      assert.doesNotMatch(out, /hello/, 'nothing from before it started');
    } finally {
      proc.kill('SIGINT');
    }
  });

  it("following with events, a scale-up shows its event and then the new instance's first line, from an agent's node", async () => {
    const stop = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const l of berth.client.logs('default', 'talk', { events: true, follow: true, tail: 0, signal: stop.signal })) seen.push('kind' in l ? `EVENT ${l.event.type} ${l.event.slot ?? ''}` : l.text);
    })();
    try {
      await waitFor('the followed stream is live', () => seen.some((s) => s.startsWith('tick')), { timeoutMs: 10_000 });
      await berth.client.scale('default', 'talk', 3);
      await waitFor('the first line of slot 3', () => seen.includes('hello from slot 3'), { timeoutMs: 20_000 });
      const created = seen.indexOf('EVENT instance.created 3');
      assert.ok(created >= 0 && created < seen.indexOf('hello from slot 3'), `the event before the line it led to: ${seen.filter((s) => !s.startsWith('tick')).join(' / ')}`);
      const third = (await berth.client.listInstances('default', 'talk', { active: true })).find((i) => i.slot === 3);
      assert.ok(third && third.node !== serverNode, `slot 3 runs on an agent's node (${third?.node})`);
    } finally {
      stop.abort();
      await reading;
    }
  });

  it('berth service stats shows the instances of the agents\' nodes', async () => {
    const out = await runBerth(berth, ['service', 'stats', 'talk']);
    assert.match(out, /talk-1\s+\d+\.\d%\s+\S+/);
    assert.match(out, /talk-2\s+\d+\.\d%\s+\S+/);
  });

  it("with an agent SIGKILLed, logs and stats still show the other node's instances and name the missing node", async () => {
    const b = agents.find((a) => a.name === 'vm-b') as RunningAgent;
    await killAgent(b, 'SIGKILL');
    const talk = await berth.client.listInstances('default', 'talk', { active: true });
    const onA = talk.find((i) => i.node === 'vm-a');
    assert.ok(onA, 'an instance on vm-a');
    const logs = await cli(berth, ['service', 'logs', 'talk', '--tail', '1000']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, new RegExp(`talk-${onA.slot} \\| hello from slot ${onA.slot}`));
    assert.match(logs.stderr, new RegExp(`berth: warning: node vm-b did not answer \\(connect ECONNREFUSED 127\\.11\\.31\\.3:${ports['vm-b']}\\)`));
    const stats = await cli(berth, ['service', 'stats', 'talk']);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, new RegExp(`talk-${onA.slot}\\s+\\d+\\.\\d%`));
    assert.match(stats.stderr, /berth: warning: node vm-b did not answer/);

    // The agent comes back (its saved credential; the telemetry token comes with its first heartbeat
    // answer): its node's logs are read again, and it stops its instance that was replaced meanwhile.
    const again = await spawnAgent(berth, 'vm-b', undefined, b.dataDir, { address: ADDRESSES['vm-b'], args: ['--telemetry-port', String(ports['vm-b'])] });
    agents[agents.indexOf(b)] = again;
    await waitFor('vm-b ready again', async () => (await berth.client.nodes()).find((n) => n.name === 'vm-b')?.ready === true, { timeoutMs: 10_000 });
    const back = await waitFor('logs of mixed without a missing node', async () => {
      const r = await cli(berth, ['service', 'logs', 'mixed', '--tail', '1000']);
      return r.code === 0 && r.stderr === '' ? r : undefined;
    }, { timeoutMs: 10_000 });
    const onB = (await berth.client.listInstances('default', 'mixed', { active: true })).find((i) => i.node === 'vm-b');
    if (onB) assert.match(back.stdout, new RegExp(`mixed-${onB.slot} \\| hello from slot ${onB.slot}`), "vm-b's instance again");
  });
});
