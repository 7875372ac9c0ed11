import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { NodeTelemetryReader } from '../api/index.js';
import { createNodeTelemetryApi } from '../api/index.js';
import type { Instance, InstanceStats, LogLine, UnreachableNode } from '../model/index.js';
import type { TelemetryTarget } from './remote-telemetry.js';
import { RemoteTelemetry } from './remote-telemetry.js';

/*
 * RemoteTelemetry against two fake nodes: real telemetry listeners (api/node-telemetry-api.ts) on
 * loopback, whose readers are scripted.
 */

const t = (s: number): string => `2026-03-01T12:00:${String(s).padStart(2, '0')}.000000000Z`;
const line = (time: string, text: string, inst: string, slot: number): LogLine => ({ time, stream: 'stdout', text, instance: inst, slot, container: 'web' });
const instance = (id: string, slot: number, node: string): Instance => ({ id, slot, node, service: 'web', grid: 'default', spec: { containers: [{ name: 'web' }] }, status: { state: 'running' } }) as unknown as Instance;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A node's reader: its history, then (following) lines and a watermark the test moves; the watermark is sent every 50 ms, as InstanceTelemetry does. */
class ScriptedNode implements NodeTelemetryReader {
  readonly asked: { tail?: number; since?: string; follow?: boolean }[] = [];
  readonly signals: AbortSignal[] = [];
  private live: LogLine[] = [];
  private mark: string;

  constructor(
    private readonly history: LogLine[],
    firstMark: string,
  ) {
    this.mark = firstMark;
  }

  push(l: LogLine): void {
    this.live.push(l);
  }

  moveMark(time: string): void {
    this.mark = time;
  }

  async *logs(source: () => readonly Instance[], query: Parameters<NodeTelemetryReader['logs']>[1]): AsyncIterable<LogLine> {
    this.asked.push({ ...(query.tail !== undefined ? { tail: query.tail } : {}), ...(query.since ? { since: query.since } : {}), ...(query.follow ? { follow: true } : {}) });
    if (query.signal) this.signals.push(query.signal);
    const ids = new Set(source().map((i) => i.id));
    const mine = this.history.filter((l) => ids.has(l.instance));
    yield* query.tail === undefined ? mine : mine.slice(-query.tail);
    if (!query.follow) return;
    query.onWatermark?.(this.mark);
    let sent = 0;
    while (!query.signal?.aborted) {
      for (; sent < this.live.length; sent++) yield this.live[sent] as LogLine;
      query.onWatermark?.(this.mark);
      await sleep(50);
    }
  }

  async stats(instances: readonly Instance[]): Promise<InstanceStats[]> {
    return instances.map((i) => ({ instance: i.id, slot: i.slot, time: t(0), cpuPercent: 1, memoryBytes: 100, processes: 1 }));
  }
}

const TOKEN = 'btl1.test.token';

async function serve(name: string, reader: NodeTelemetryReader, known: readonly Instance[]): Promise<TelemetryTarget> {
  const app = createNodeTelemetryApi({ node: name, reader, instance: (id) => known.find((i) => i.id === id && i.node === name), token: () => TOKEN });
  await app.listen({ host: '127.0.0.1', port: 0 });
  after(() => app.close());
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  return { url: `http://127.0.0.1:${address.port}`, token: TOKEN };
}

/**
 * A follow of ALL over vm-a (served by `serve`) and vm-b, whose agent is an app of its own that the test
 * stops (`bApp().close()`) and starts again on the same port (`restartB`). The follow and vm-b's app
 * are stopped when the test ends, also after a failed assertion (the file would never end otherwise).
 */
async function followTwoNodes(a: ScriptedNode, b: ScriptedNode, retryMs: number) {
  const nodeB = (reader: ScriptedNode) => createNodeTelemetryApi({ node: 'vm-b', reader, instance: (id) => ALL.find((i) => i.id === id && i.node === 'vm-b'), token: () => TOKEN });
  let bApp = nodeB(b);
  await bApp.listen({ host: '127.0.0.1', port: 0 });
  const bPort = (bApp.server.address() as { port: number }).port;
  const targets = new Map<string, TelemetryTarget>([['vm-a', await serve('vm-a', a, ALL)], ['vm-b', { url: `http://127.0.0.1:${bPort}`, token: TOKEN }]]);
  const telemetry = new RemoteTelemetry({ target: (node) => targets.get(node) as TelemetryTarget, rescanMs: 50, retryMs });
  const stop = new AbortController();
  after(() => {
    stop.abort();
    return bApp.close();
  });
  const got: string[] = [];
  const unreachable: UnreachableNode[] = [];
  const reading = (async () => {
    for await (const l of telemetry.logs(ALL, { follow: true, signal: stop.signal, onUnreachable: (u) => unreachable.push(u) })) got.push(l.text);
  })();
  return {
    got,
    unreachable,
    bApp: () => bApp,
    restartB: async (reader: ScriptedNode): Promise<void> => {
      bApp = nodeB(reader);
      await bApp.listen({ host: '127.0.0.1', port: bPort });
    },
    end: async (): Promise<void> => {
      stop.abort();
      await reading;
    },
  };
}

/** A loopback port nothing listens on (a node whose agent was killed). */
async function closedPort(): Promise<TelemetryTarget> {
  const app = createNodeTelemetryApi({ node: 'gone', reader: new ScriptedNode([], t(0)), instance: () => undefined, token: () => TOKEN });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  await app.close();
  return { url: `http://127.0.0.1:${address.port}`, token: TOKEN };
}

const A1 = instance('web-1-a', 1, 'vm-a');
const B2 = instance('web-2-b', 2, 'vm-b');
const ALL = [A1, B2];

async function twoNodes(options: { bDown?: boolean } = {}) {
  const a = new ScriptedNode([line(t(1), 'a1', A1.id, 1), line(t(3), 'a3', A1.id, 1), line(t(5), 'a5', A1.id, 1)], t(6));
  const b = new ScriptedNode([line(t(2), 'b2', B2.id, 2), line(t(4), 'b4', B2.id, 2), line(t(6), 'b6', B2.id, 2)], t(7));
  const targets = new Map<string, TelemetryTarget>([
    ['vm-a', await serve('vm-a', a, ALL)],
    ['vm-b', options.bDown ? await closedPort() : await serve('vm-b', b, ALL)],
  ]);
  const telemetry = new RemoteTelemetry({ target: (node) => targets.get(node) ?? { problem: 'the node is not registered any more' }, rescanMs: 100, retryMs: 300 });
  return { a, b, telemetry };
}

async function collect(lines: AsyncIterable<LogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(l.text);
  return out;
}

describe('RemoteTelemetry (the servers reading the nodes\' agents)', () => {
  it('merges the histories of two nodes in time order, and a tail is the last N lines of the merged stream', async () => {
    const { a, b, telemetry } = await twoNodes();
    assert.deepEqual(await collect(telemetry.logs(ALL, {})), ['a1', 'b2', 'a3', 'b4', 'a5', 'b6']);
    assert.deepEqual(await collect(telemetry.logs(ALL, { tail: 3, since: '2026-03-01T11:00:00.000Z' })), ['b4', 'a5', 'b6']);
    assert.deepEqual(a.asked.at(-1), { tail: 3, since: '2026-03-01T11:00:00.000Z' }, 'each node is asked for its own last 3 lines since the time');
    assert.deepEqual(b.asked.at(-1), { tail: 3, since: '2026-03-01T11:00:00.000Z' });
  });

  it('while following, releases lines in time order up to the smallest watermark of the nodes, which is the merged watermark', async () => {
    const { a, b, telemetry } = await twoNodes();
    const stop = new AbortController();
    after(() => stop.abort()); // a failed assertion must not leave the follow running
    const got: string[] = [];
    const marks: string[] = [];
    const reading = (async () => {
      for await (const l of telemetry.logs(ALL, { follow: true, tail: 2, signal: stop.signal, onWatermark: (m) => marks.push(m) })) got.push(l.text);
    })();
    await waitFor('the history', () => got.length === 2);
    assert.deepEqual(got, ['a5', 'b6'], 'the tail of the merged history');
    await waitFor('the first merged watermark', () => marks.length > 0);
    assert.equal(marks[0], t(6), "the smaller of the nodes' watermarks (6 and 7)");
    // vm-a runs ahead (its watermark 12), vm-b lags (9): b's line at 8 is released, a's at 10 waits.
    a.push(line(t(10), 'a10', A1.id, 1));
    a.moveMark(t(12));
    b.push(line(t(8), 'b8', B2.id, 2));
    b.moveMark(t(9));
    await waitFor('b8', () => got.includes('b8'));
    await waitFor('watermark 9', () => marks.includes(t(9)));
    await sleep(200);
    assert.ok(!got.includes('a10'), 'a line newer than the slower node\'s watermark is held');
    b.moveMark(t(11));
    await waitFor('a10', () => got.includes('a10'));
    await waitFor('watermark 11', () => marks.includes(t(11)));
    assert.deepEqual(got, ['a5', 'b6', 'b8', 'a10']);
    assert.ok(marks.every((m, k) => k === 0 || m > (marks[k - 1] as string)), `watermarks only move forward: ${marks.join(', ')}`);
    assert.ok(!marks.some((m) => m > t(11)), 'never past the slower node');
    stop.abort();
    await reading;
    // The client went away: both agents' readers were told to stop.
    await waitFor('the agents\' readers aborted', () => [...a.signals, ...b.signals].every((s) => s.aborted));
  });

  it("names a node that does not answer, and still returns the other node's lines", async () => {
    const { telemetry } = await twoNodes({ bDown: true });
    const unreachable: UnreachableNode[] = [];
    assert.deepEqual(await collect(telemetry.logs(ALL, { onUnreachable: (u) => unreachable.push(u) })), ['a1', 'a3', 'a5']);
    assert.equal(unreachable.length, 1);
    assert.equal(unreachable[0]?.node, 'vm-b');
    assert.deepEqual(unreachable[0]?.instances, [B2.id]);
    assert.match(unreachable[0]?.reason ?? '', /ECONNREFUSED/);
    // Stats likewise: vm-b's instance is absent, and vm-b is named.
    const missing: UnreachableNode[] = [];
    const stats = await telemetry.stats(ALL, { onUnreachable: (u) => missing.push(u) });
    assert.deepEqual(stats.map((s) => s.instance), [A1.id]);
    assert.deepEqual(missing.map((m) => m.node), ['vm-b']);
  });

  it('does not ask for an instance that is still new (its agent may not know it yet: it would refuse the request)', async () => {
    const { telemetry } = await twoNodes();
    const fresh = { ...instance('web-3-c', 3, 'vm-b'), status: { state: 'new' } } as unknown as Instance;
    const unreachable: UnreachableNode[] = [];
    assert.deepEqual(await collect(telemetry.logs([...ALL, fresh], { onUnreachable: (u) => unreachable.push(u) })), ['a1', 'b2', 'a3', 'b4', 'a5', 'b6']);
    assert.deepEqual(unreachable, []);
  });

  it('fails with LOGS_UNAVAILABLE naming every node when none could be read (a node without a listener included)', async () => {
    const down = await closedPort();
    const telemetry = new RemoteTelemetry({ target: (node) => (node === 'vm-a' ? down : { problem: 'its agent serves no telemetry' }) });
    await assert.rejects(collect(telemetry.logs(ALL, {})), (e: { code?: string; message?: string }) => {
      assert.equal(e.code, 'LOGS_UNAVAILABLE');
      assert.match(e.message ?? '', /node vm-a \(.*ECONNREFUSED.*\); node vm-b \(its agent serves no telemetry\)/);
      return true;
    });
    await assert.rejects(telemetry.stats(ALL), (e: { code?: string }) => e.code === 'LOGS_UNAVAILABLE');
  });

  it('asks a node whose stream broke again, from where it broke (after failed retries too), and says once that its lines were missing', async () => {
    const a = new ScriptedNode([line(t(1), 'a1', A1.id, 1)], t(2));
    const f = await followTwoNodes(a, new ScriptedNode([line(t(1), 'b1', B2.id, 2)], t(2)), 200);
    await waitFor('both histories', () => f.got.length === 2);
    await f.bApp().close(); // the agent of vm-b stops
    await waitFor('vm-b named', () => f.unreachable.length === 1);
    assert.equal(f.unreachable[0]?.node, 'vm-b');
    // vm-a goes on meanwhile.
    a.push(line(t(3), 'a3', A1.id, 1));
    a.moveMark(t(4));
    await waitFor('a3 while vm-b is away', () => f.got.includes('a3'));
    // vm-b stays away for several retries (retryMs 200), each failing before anything came: the next is
    // still asked from where its stream broke, not from the start of the follow.
    await sleep(700);
    // vm-b's agent is back on its port: asked again from its watermark, its new line comes, once.
    const b = new ScriptedNode([line(t(1), 'b1', B2.id, 2), line(t(3), 'b3', B2.id, 2)], t(4));
    await f.restartB(b);
    await waitFor('b3 after the retry', () => f.got.includes('b3'));
    assert.equal(b.asked[0]?.since, t(2), 'asked from where its stream broke');
    await sleep(300);
    assert.deepEqual(f.got.filter((g) => g === 'b1'), ['b1'], 'the line it had sent is not sent twice');
    assert.equal(f.unreachable.length, 1, 'named once');
    await f.end();
  });
  it('says that the stream of a node whose connection broke mid-stream (a SIGKILLed agent) broke, not a bare "terminated"', async () => {
    const f = await followTwoNodes(new ScriptedNode([line(t(1), 'a1', A1.id, 1)], t(2)), new ScriptedNode([line(t(1), 'b1', B2.id, 2)], t(2)), 60_000);
    await waitFor('both histories', () => f.got.length === 2);
    f.bApp().server.closeAllConnections(); // the connection is cut, as when the agent's process dies
    await waitFor('vm-b named', () => f.unreachable.length === 1);
    assert.equal(f.unreachable[0]?.node, 'vm-b');
    assert.match(f.unreachable[0]?.reason ?? '', /^its stream broke \(.+\)$/);
    await f.end();
  });
});
