import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Instance, LogLine } from '../../model/index.js';
import { AsyncChannel } from '../../lib/index.js';
import type { Telemetry } from '../ports.js';
import { DOCKER_NOW, addInstance, deployService, dockerFace } from '../testing/docker-fixtures.js';
import { LOG_ACCESS, parseSinceTimestamp } from './log-routes.js';
import { goQueryEscape } from './log-stream.js';
import { nodeIdOf, taskIdOf } from './swarm-ids.js';

interface Frame {
  readonly stream: number;
  readonly text: string;
}

/** Decodes stdcopy frames byte by byte: type (1, 2 or 3), three zero bytes, a uint32 BE length, the payload. */
function decodeFrames(bytes: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  while (bytes.length - at >= 8) {
    const type = bytes[at] as number;
    assert.ok(type === 1 || type === 2 || type === 3, `stream type ${type} at byte ${at}`);
    assert.deepEqual([bytes[at + 1], bytes[at + 2], bytes[at + 3]], [0, 0, 0], 'three zero bytes after the type');
    const length = ((bytes[at + 4] as number) << 24) | ((bytes[at + 5] as number) << 16) | ((bytes[at + 6] as number) << 8) | (bytes[at + 7] as number);
    if (bytes.length - at - 8 < length) break;
    frames.push({ stream: type, text: bytes.subarray(at + 8, at + 8 + length).toString('utf8') });
    at += 8 + length;
  }
  return { frames, rest: bytes.subarray(at) };
}

function framesOf(body: Buffer): Frame[] {
  const { frames, rest } = decodeFrames(body);
  assert.equal(rest.length, 0, 'no bytes left over after the last frame');
  return frames;
}

function line(instance: string, slot: number, time: string, text: string, stream: 'stdout' | 'stderr' = 'stdout'): LogLine {
  return { time, stream, text, instance, slot, container: 'web' };
}

function setup(deps: { telemetry?: Telemetry } = {}) {
  const face = dockerFace(deps.telemetry ? { telemetry: deps.telemetry } : {});
  after(() => face.app.close());
  const web = deployService(face.store, { name: 'web', replicas: 2 });
  addInstance(face.store, web, { id: 'web-1-a', slot: 1, status: {} });
  addInstance(face.store, web, { id: 'web-2-a', slot: 2, status: {} });
  face.telemetry.lines = [
    line('web-1-a', 1, '2026-03-01T11:00:00.000000000Z', 'one'),
    line('web-2-a', 2, '2026-03-01T11:00:01.250000000Z', 'two', 'stderr'),
    line('web-1-a', 1, '2026-03-01T11:00:02.000000001Z', 'three'),
  ];
  return { ...face, web };
}

/** As setup(), with web-2-a on another node, vm-b (an agent's). */
function twoNodes(deps: { telemetry?: Telemetry } = {}) {
  const face = dockerFace(deps.telemetry ? { telemetry: deps.telemetry } : {});
  after(() => face.app.close());
  face.store.upsertNode({ name: 'vm-b', address: '127.0.0.2', drivers: ['process'], ready: true, heartbeatAt: new Date(DOCKER_NOW).toISOString() });
  const web = deployService(face.store, { name: 'web', replicas: 2 });
  addInstance(face.store, web, { id: 'web-1-a', slot: 1, status: {} });
  addInstance(face.store, web, { id: 'web-2-a', slot: 2, status: {}, node: 'vm-b' });
  face.telemetry.lines = [
    line('web-1-a', 1, '2026-03-01T11:00:00.000000000Z', 'one'),
    line('web-2-a', 2, '2026-03-01T11:00:01.250000000Z', 'two', 'stderr'),
    line('web-1-a', 1, '2026-03-01T11:00:02.000000001Z', 'three'),
  ];
  return { ...face, web };
}

async function logs(app: FastifyInstance, url: string): Promise<{ status: number; contentType: string; frames: Frame[]; json?: unknown }> {
  const res = await app.inject({ method: 'GET', url });
  const contentType = String(res.headers['content-type']);
  if (res.statusCode !== 200) return { status: res.statusCode, contentType, frames: [], json: res.json() };
  return { status: res.statusCode, contentType, frames: framesOf(res.rawPayload) };
}

describe('Docker face: service and task logs', () => {
  it('streams a service’s lines in time order, one multiplexed frame per line: stdout on 1, stderr on 2', async () => {
    const { app } = setup();
    const res = await logs(app, '/v1.50/services/web/logs?stdout=1&stderr=1');
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'application/vnd.docker.multiplexed-stream');
    assert.deepEqual(res.frames, [
      { stream: 1, text: 'one\n' },
      { stream: 2, text: 'two\n' },
      { stream: 1, text: 'three\n' },
    ]);
  });

  it('says raw-stream before API 1.42, as moby, with the same frames', async () => {
    const { app } = setup();
    const res = await logs(app, '/v1.41/services/web/logs?stdout=true&stderr=true');
    assert.equal(res.contentType, 'application/vnd.docker.raw-stream');
    assert.equal(res.frames.length, 3);
  });

  it('sends only the streams asked for, and refuses a request for neither with Docker’s words', async () => {
    const { app } = setup();
    assert.deepEqual((await logs(app, '/v1.50/services/web/logs?stdout=1')).frames.map((f) => f.text), ['one\n', 'three\n']);
    assert.deepEqual((await logs(app, '/v1.50/services/web/logs?stderr=1&stdout=0')).frames, [{ stream: 2, text: 'two\n' }]);
    const neither = await logs(app, '/v1.50/services/web/logs?stdout=false');
    assert.equal(neither.status, 400);
    assert.deepEqual(neither.json, { message: 'Bad parameters: you must choose at least one stream' });
  });

  it('prefixes RFC3339Nano timestamps (nine digits) and the details the CLI reads, as `<time> <k=v,…> <line>`', async () => {
    const { app, web } = setup();
    const res = await logs(app, `/v1.50/services/${web.id}/logs?stdout=1&stderr=1&timestamps=1&details=1`);
    const details = (task: string): string => `com.docker.swarm.node.id=${nodeIdOf('node-1')},com.docker.swarm.service.id=${web.id},com.docker.swarm.task.id=${taskIdOf(task)}`;
    assert.deepEqual(res.frames.map((f) => f.text), [
      `2026-03-01T11:00:00.000000000Z ${details('web-1-a')} one\n`,
      `2026-03-01T11:00:01.250000000Z ${details('web-2-a')} two\n`,
      `2026-03-01T11:00:02.000000001Z ${details('web-1-a')} three\n`,
    ]);
    const onlyDetails = await logs(app, '/v1.50/services/web/logs?stdout=1&details=1');
    assert.equal(onlyDetails.frames[0]?.text, `${details('web-1-a')} one\n`);
  });

  it('escapes detail values as Go’s url.QueryEscape', () => {
    assert.equal(goQueryEscape("a b/c=d,e!'()*~_-."), "a+b%2Fc%3Dd%2Ce%21%27%28%29%2A~_-.");
  });

  it('passes tail (a number or all) and since (unix seconds with a fraction) to the telemetry', async () => {
    const { app, telemetry } = setup();
    const tailed = await logs(app, '/v1.50/services/web/logs?stdout=1&stderr=1&tail=1');
    assert.deepEqual(tailed.frames.map((f) => f.text), ['three\n']);
    assert.equal(telemetry.logsCalls.at(-1)?.options.tail, 1);
    await logs(app, '/v1.50/services/web/logs?stdout=1&tail=all&since=1772362801.25');
    assert.equal(telemetry.logsCalls.at(-1)?.options.tail, undefined);
    assert.equal(telemetry.logsCalls.at(-1)?.options.since, '2026-03-01T11:00:01.250000000Z');
    assert.equal(telemetry.logsCalls.at(-1)?.options.follow, false);
    assert.deepEqual(telemetry.logsCalls.at(-1)?.instances.map((i: Instance) => i.id).sort(), ['web-1-a', 'web-2-a']);
  });

  it('reads since as moby’s ParseTimestamps: seconds, a fraction scaled to nanoseconds, 0 for the beginning', () => {
    assert.equal(parseSinceTimestamp('1772362800'), '2026-03-01T11:00:00.000000000Z');
    assert.equal(parseSinceTimestamp('1772362800.000000007'), '2026-03-01T11:00:00.000000007Z');
    assert.equal(parseSinceTimestamp('0'), undefined);
    assert.equal(parseSinceTimestamp(''), undefined);
    assert.equal(parseSinceTimestamp('2026-03-01T11:00:00.5Z'), '2026-03-01T11:00:00.500000000Z');
  });

  it('refuses a bad tail or since with 400 and moby’s words', async () => {
    const { app } = setup();
    assert.deepEqual((await logs(app, '/v1.50/services/web/logs?stdout=1&tail=ten')).json, { message: 'tail value must be a positive integer or "all"' });
    assert.deepEqual((await logs(app, '/v1.50/services/web/logs?stdout=1&tail=-2')).json, { message: 'negative tail values not supported' });
    const since = await logs(app, '/v1.50/services/web/logs?stdout=1&since=yesterday');
    assert.equal(since.status, 400);
    assert.match(String((since.json as { message: string }).message), /^could not parse since timestamp/);
  });

  it('gives one task’s lines only, found by id prefix or name; unknown ones are 404 in Docker’s words', async () => {
    const { app, telemetry } = setup();
    const res = await logs(app, '/v1.50/tasks/web-2/logs?stdout=1&stderr=1');
    assert.equal(res.status, 200);
    assert.deepEqual(res.frames, [{ stream: 2, text: 'two\n' }]);
    assert.deepEqual(telemetry.logsCalls.at(-1)?.instances.map((i: Instance) => i.id), ['web-2-a']);
    assert.deepEqual((await logs(app, '/v1.50/tasks/nope/logs?stdout=1')).json, { message: 'task nope not found' });
    assert.deepEqual((await logs(app, '/v1.50/services/nope/logs?stdout=1')).json, { message: 'service nope not found' });
  });

  it('answers a telemetry failure before the first line with the engine’s JSON error, and one after it as a stream-3 frame', async () => {
    const failing = setup();
    failing.telemetry.logsError = new Error('node node-1 does not answer');
    const early = await logs(failing.app, '/v1.50/services/web/logs?stdout=1');
    assert.equal(early.status, 500);
    assert.deepEqual(early.json, { message: 'node node-1 does not answer' });

    const midway: Telemetry = {
      async *logs(instances) {
        yield line(instances[0]?.id ?? '', 1, '2026-03-01T11:00:00.000000000Z', 'before');
        throw new Error('log file vanished');
      },
      stats: async () => [],
    };
    const late = setup({ telemetry: midway });
    const res = await logs(late.app, '/v1.50/services/web/logs?stdout=1');
    assert.deepEqual(res.frames, [
      { stream: 1, text: 'before\n' },
      { stream: 3, text: 'Error grabbing logs: log file vanished\n' },
    ]);
  });

  it('names a node whose agent did not answer after the lines it got, as swarmkit ends an incomplete stream (a stream-3 frame)', async () => {
    const { app, telemetry } = twoNodes();
    telemetry.unreachable = [{ node: 'vm-b', reason: 'no answer within 5000 ms', instances: ['web-2-a'] }];
    const res = await logs(app, '/v1.50/services/web/logs?stdout=1&stderr=1');
    assert.equal(res.status, 200);
    assert.deepEqual(res.frames, [
      { stream: 1, text: 'one\n' },
      { stream: 1, text: 'three\n' },
      { stream: 3, text: 'Error grabbing logs: warning: incomplete log stream. some logs could not be retrieved for the following reasons: node vm-b is not available (no answer within 5000 ms)\n' },
    ]);
    telemetry.unreachable = [];
    assert.deepEqual((await logs(app, '/v1.50/services/web/logs?stdout=1&stderr=1')).frames.map((f) => f.stream), [1, 2, 1], 'no frame 3 when every node answered');
  });

  it('has an access rule for each log route: `logs` on the service, or in the grid for a task', () => {
    assert.deepEqual(LOG_ACCESS, {
      'GET /services/:id/logs': { kind: 'permission', permission: 'logs', scope: 'service' },
      'GET /tasks/:id/logs': { kind: 'permission', permission: 'logs', scope: 'grid' },
    });
  });
});

/** Listens on a free loopback port: a followed stream needs a real socket. */
async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

/** Reads frames from a streaming response as they come. */
function frameReader(response: Response) {
  assert.ok(response.body);
  const reader = response.body.getReader();
  let buffer = Buffer.alloc(0);
  const ready: Frame[] = [];
  return {
    async next(): Promise<Frame> {
      for (;;) {
        const frame = ready.shift();
        if (frame) return frame;
        const { done, value } = await reader.read();
        if (done) throw new Error('stream ended');
        const { frames, rest } = decodeFrames(Buffer.concat([buffer, Buffer.from(value)]));
        ready.push(...frames);
        buffer = Buffer.from(rest);
      }
    },
    /** Resolves true when the server ends the stream (after any frames still unread). */
    async ended(): Promise<boolean> {
      for (;;) {
        const { done } = await reader.read();
        if (done) return true;
      }
    },
  };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let k = 0; k < 200 && !condition(); k++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('Docker face: following logs over a socket', { timeout: 15_000 }, () => {
  it('sends the history, then a line written after the request started, until the client leaves', async () => {
    const { app, telemetry } = setup();
    const base = await listen(app);
    const abort = new AbortController();
    const response = await fetch(`${base}/v1.50/services/web/logs?stdout=1&stderr=1&follow=1&tail=1`, { signal: abort.signal });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/vnd.docker.multiplexed-stream');
    const frames = frameReader(response);
    assert.deepEqual(await frames.next(), { stream: 1, text: 'three\n' });
    await waitFor(() => telemetry.followers.size === 1, 'the request follows the telemetry');
    telemetry.push(line('web-2-a', 2, '2026-03-01T12:00:05.000000000Z', 'later', 'stderr'));
    assert.deepEqual(await frames.next(), { stream: 2, text: 'later\n' });
    abort.abort();
    await waitFor(() => telemetry.followers.size === 0, 'the telemetry read stops when the client leaves');
  });

  it('follows a service’s instances that start after the request (a restart, a scale-up), never another service’s', async () => {
    // As the server's telemetry (app/server.ts liveSource): a followed service's new instances are read too.
    const live = new AsyncChannel<LogLine>();
    const telemetry: Telemetry = {
      async *logs(_instances, options) {
        options.signal?.addEventListener('abort', () => live.close(), { once: true });
        yield* live;
      },
      stats: async () => [],
    };
    const { app, store, web } = setup({ telemetry });
    const other = deployService(store, { name: 'api', replicas: 1 });
    const base = await listen(app);
    const leave = new AbortController();
    const response = await fetch(`${base}/v1.50/services/web/logs?stdout=1&follow=1&details=1`, { signal: leave.signal });
    const frames = frameReader(response);
    addInstance(store, web, { id: 'web-3-new', slot: 3, status: {} });
    addInstance(store, other, { id: 'api-1-a', slot: 1, status: {} });
    live.push(line('api-1-a', 1, '2026-03-01T12:00:05.000000000Z', 'not web'));
    live.push(line('web-3-new', 3, '2026-03-01T12:00:06.000000000Z', 'new instance'));
    const frame = await frames.next();
    assert.equal(frame.text, `com.docker.swarm.node.id=${nodeIdOf('node-1')},com.docker.swarm.service.id=${web.id},com.docker.swarm.task.id=${taskIdOf('web-3-new')} new instance\n`);
    leave.abort();
  });

  it('while following, names a node whose agent did not answer in a stderr line of one of its tasks, and goes on', async () => {
    const { app, telemetry, web } = twoNodes();
    telemetry.unreachable = [{ node: 'vm-b', reason: 'connect ECONNREFUSED 127.0.0.2:10250', instances: ['web-2-a'] }];
    const base = await listen(app);
    const leave = new AbortController();
    const response = await fetch(`${base}/v1.50/services/web/logs?stdout=1&stderr=1&follow=1&timestamps=1&details=1`, { signal: leave.signal });
    const frames = frameReader(response);
    const details = (node: string, task: string): string => `com.docker.swarm.node.id=${nodeIdOf(node)},com.docker.swarm.service.id=${web.id},com.docker.swarm.task.id=${taskIdOf(task)}`;
    // The CLI parses every frame's details (its `web.2.<task>@vm-b |` prefix): the notice is a line of vm-b's task.
    assert.deepEqual(await frames.next(), {
      stream: 2,
      text: `${new Date(DOCKER_NOW).toISOString().slice(0, 19)}.000000000Z ${details('vm-b', 'web-2-a')} berth: node vm-b did not answer (connect ECONNREFUSED 127.0.0.2:10250): lines of its instances are missing until it answers again\n`,
    });
    assert.deepEqual(await frames.next(), { stream: 1, text: `2026-03-01T11:00:00.000000000Z ${details('node-1', 'web-1-a')} one\n` });
    assert.deepEqual(await frames.next(), { stream: 1, text: `2026-03-01T11:00:02.000000001Z ${details('node-1', 'web-1-a')} three\n` });
    await waitFor(() => telemetry.followers.size === 1, 'the request still follows the telemetry');
    telemetry.push(line('web-1-a', 1, '2026-03-01T12:00:05.000000000Z', 'later'));
    assert.deepEqual(await frames.next(), { stream: 1, text: `2026-03-01T12:00:05.000000000Z ${details('node-1', 'web-1-a')} later\n` }, 'the stream goes on after the notice');
    leave.abort();
  });

  it('writes the notice of a node lost while following at once, without waiting for another line', async () => {
    const live = new AsyncChannel<LogLine>();
    let report: ((node: { node: string; reason: string; instances: string[] }) => void) | undefined;
    const telemetry: Telemetry = {
      async *logs(_instances, options) {
        report = options.onUnreachable;
        options.signal?.addEventListener('abort', () => live.close(), { once: true });
        yield* live;
      },
      stats: async () => [],
    };
    const { app } = twoNodes({ telemetry });
    const base = await listen(app);
    const leave = new AbortController();
    const response = await fetch(`${base}/v1.50/services/web/logs?stdout=1&stderr=1&follow=1`, { signal: leave.signal });
    const frames = frameReader(response);
    live.push(line('web-2-a', 2, '2026-03-01T12:00:05.000000000Z', 'before the loss'));
    assert.deepEqual(await frames.next(), { stream: 1, text: 'before the loss\n' });
    assert.ok(report, 'the face asked to hear of unreachable nodes');
    report({ node: 'vm-b', reason: 'its stream stayed silent for 10000 ms', instances: ['web-2-a'] });
    assert.deepEqual(await frames.next(), { stream: 2, text: 'berth: node vm-b did not answer (its stream stayed silent for 10000 ms): lines of its instances are missing until it answers again\n' });
    leave.abort();
  });

  it('ends an open follow cleanly when the face closes', async () => {
    const { app, telemetry } = setup();
    const base = await listen(app);
    const response = await fetch(`${base}/v1.50/tasks/web-1-a/logs?stdout=1&follow=true`);
    const frames = frameReader(response);
    assert.deepEqual(await frames.next(), { stream: 1, text: 'one\n' });
    await waitFor(() => telemetry.followers.size === 1, 'the request follows the telemetry');
    await app.close();
    assert.equal(await frames.ended(), true);
    assert.equal(telemetry.followers.size, 0);
  });
});

