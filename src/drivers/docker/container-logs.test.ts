import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import type { ContainerLogLine } from '../driver.js';
import { readContainerLogs } from './container-logs.js';
import { LogLineAssembler, MAX_JOINED_LINE_BYTES, TimeOrder, normalizeRfc3339 } from './log-lines.js';
import { engineGate, importBusyboxImage, removeContainer, removeImage, runContainer, TEST_PREFIX, waitExited } from './io-test-support.js';
import { FrameDemuxer } from './stream-frames.js';

const NANO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

async function collect(lines: AsyncIterable<ContainerLogLine>): Promise<ContainerLogLine[]> {
  const out: ContainerLogLine[] = [];
  for await (const l of lines) out.push(l);
  return out;
}

describe('normalizeRfc3339', () => {
  it('gives UTC with exactly nine fraction digits, so times sort as strings', () => {
    assert.equal(normalizeRfc3339('2026-11-21T15:04:05.123456789Z'), '2026-11-21T15:04:05.123456789Z');
    assert.equal(normalizeRfc3339('2026-11-21T15:04:05.1Z'), '2026-11-21T15:04:05.100000000Z');
    assert.equal(normalizeRfc3339('2026-11-21T15:04:05Z'), '2026-11-21T15:04:05.000000000Z');
    assert.equal(normalizeRfc3339('2026-11-21T16:04:05.5+01:00'), '2026-11-21T15:04:05.500000000Z');
    assert.equal(normalizeRfc3339('2026-11-21T00:30:00-01:00'), '2026-11-21T01:30:00.000000000Z');
    assert.equal(normalizeRfc3339('yesterday'), undefined);
    assert.equal(normalizeRfc3339('2026-13-45T15:04:05Z'), undefined);
  });
});

describe('FrameDemuxer and LogLineAssembler', () => {
  it('cut frames wherever the transport cuts them, even byte by byte', () => {
    const bytes = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n'), frame(1, '')]);
    const demuxer = new FrameDemuxer();
    const frames = [...bytes].flatMap((b) => demuxer.push(Buffer.from([b])));
    assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]), [['stdout', 'hello\n'], ['stderr', 'oops\n'], ['stdout', '']]);
    assert.equal(demuxer.pendingBytes, 0);
  });

  it('refuses a stream that is not multiplexed (a TTY’s)', () => {
    assert.throws(() => new FrameDemuxer().push(Buffer.from('2026-11-21T15:04:05Z hello\n')), /not a multiplexed Docker stream/);
  });

  it('yields several records of one frame, joins pieces with their own times and a record cut without time, per stream', () => {
    const a = new LogLineAssembler();
    const t1 = '2026-11-21T15:04:05.000000001Z';
    const t2 = '2026-11-21T15:04:05.000000002Z';
    const t3 = '2026-11-21T15:04:05.000000003Z';
    assert.deepEqual(a.push('stdout', Buffer.from(`${t1} one\n${t2} two\n${t3} thr`)), [
      { time: t1, stream: 'stdout', text: 'one' },
      { time: t2, stream: 'stdout', text: 'two' },
    ]);
    assert.deepEqual(a.push('stderr', Buffer.from(`${t3} err\n`)), [{ time: t3, stream: 'stderr', text: 'err' }]);
    assert.deepEqual(a.push('stdout', Buffer.from('ee')), []); // continues without a time of its own
    assert.deepEqual(a.push('stdout', Buffer.from(`2026-11-21T15:04:06.0Z !\n${t1} tail`)), [{ time: t3, stream: 'stdout', text: 'three!' }]);
    assert.deepEqual(a.end(), [{ time: t1, stream: 'stdout', text: 'tail' }]);
    assert.deepEqual(a.end(), []);
  });

  it('decodes a UTF-8 character cut between two pieces once the line is whole', () => {
    const a = new LogLineAssembler();
    const euro = Buffer.from('€');
    assert.deepEqual(a.push('stdout', Buffer.concat([Buffer.from('2026-11-21T15:04:05Z a'), euro.subarray(0, 1)])), []);
    assert.deepEqual(a.push('stdout', Buffer.concat([Buffer.from('2026-11-21T15:04:06Z '), euro.subarray(1), Buffer.from('b\n')])), [
      { time: '2026-11-21T15:04:05.000000000Z', stream: 'stdout', text: 'a€b' },
    ]);
  });

  it('yields a line that never ends in pieces of MAX_JOINED_LINE_BYTES', () => {
    const a = new LogLineAssembler();
    const piece = `2026-11-21T15:04:05Z ${'x'.repeat(16 * 1024)}`;
    const out: ContainerLogLine[] = [];
    for (let i = 0; i < 65; i++) out.push(...a.push('stdout', Buffer.from(piece)));
    assert.equal(out.length, 1);
    assert.equal(out[0]?.text.length, MAX_JOINED_LINE_BYTES);
    assert.equal(a.end()[0]?.text.length, 65 * 16 * 1024 - MAX_JOINED_LINE_BYTES);
  });
});

describe('readContainerLogs, against a canned engine answer', () => {
  /**
   * A client whose engine answers every logs request with `frames`, and says the container has exited;
   * `query()` is what the first request asked, `requests()` how many were made.
   */
  function cannedEngine(
    frames: Buffer[] | ((query: Record<string, unknown>, n: number) => Buffer[]),
    running: (n: number) => boolean = () => false,
  ): { docker: Dockerode; query: () => Record<string, unknown>; requests: () => number; queries: Record<string, unknown>[] } {
    const asked: Record<string, unknown>[] = [];
    let inspections = 0;
    const docker = {
      modem: {
        dial(options: { options: Record<string, unknown> }, callback: (err: Error | null, res: unknown) => void) {
          asked.push({ ...options.options });
          callback(null, Readable.from(typeof frames === 'function' ? frames(options.options, asked.length) : frames));
        },
      },
      getContainer: () => ({ inspect: async () => ({ State: { Running: running(++inspections) } }) }),
    } as unknown as Dockerode;
    return { docker, query: () => asked[0] ?? {}, requests: () => asked.length, queries: asked };
  }
  const t = (n: number): string => `2026-11-21T15:04:05.${String(n).padStart(9, '0')}Z`;
  const frames = [1, 2, 3, 4].map((n) => frame(n % 2 === 0 ? 2 : 1, `${t(n)} line${n}\n`));

  it('asks for both streams with timestamps, passes since as unix seconds with nanoseconds, and filters exactly', async () => {
    const engine = cannedEngine(frames); // an engine that filters by whole seconds only: everything comes back
    const lines = await collect(readContainerLogs(engine.docker, 'c1', { since: '2026-11-21T16:04:05.000000003+01:00' }));
    assert.deepEqual(lines.map((l) => l.text), ['line3', 'line4']);
    assert.deepEqual(engine.query(), { stdout: true, stderr: true, timestamps: true, follow: false, since: `${Date.parse('2026-11-21T15:04:05Z') / 1000}.000000003` });
  });

  it('lets the engine cut tail alone, but cuts it here after since', async () => {
    const alone = cannedEngine(frames.slice(2));
    const followed = await collect(readContainerLogs(alone.docker, 'c1', { tail: 2, follow: true }));
    assert.equal(alone.query().tail, 2);
    assert.equal(alone.query().follow, true);
    // The follow ended with the container: one plain read from the last line's time, each line once.
    assert.equal(alone.requests(), 2);
    assert.deepEqual(followed.map((l) => l.text), ['line3', 'line4']);
    const both = cannedEngine(frames);
    const lines = await collect(readContainerLogs(both.docker, 'c1', { tail: 2, since: t(2) }));
    assert.equal(both.query().tail, undefined);
    assert.deepEqual(lines.map((l) => l.text), ['line3', 'line4']);
  });

  it('puts a read of both streams in time order, as the engine may send a line of one after a later line of the other (its json-file order)', async () => {
    // As the engine answered `echo one; echo two; echo oops >&2; echo three` once: oops timed before two, sent after three.
    const skewed = [frame(1, `${t(1)} one\n`), frame(1, `${t(3)} two\n`), frame(1, `${t(4)} three\n`), frame(2, `${t(2)} oops\n`), frame(1, `${t(5)} last words`)];
    const lines = await collect(readContainerLogs(cannedEngine(skewed).docker, 'c1', {}));
    assert.deepEqual(lines.map((l) => `${l.stream} ${l.text}`), ['stdout one', 'stderr oops', 'stdout two', 'stdout three', 'stdout last words']);
    assert.deepEqual(lines.map((l) => l.time), [1, 2, 3, 4, 5].map(t));
    const tailed = await collect(readContainerLogs(cannedEngine(skewed).docker, 'c1', { tail: 3, since: t(1) }));
    assert.deepEqual(tailed.map((l) => l.text), ['two', 'three', 'last words'], 'since, then the last lines in time order');
  });

  it('releases a line in order once a window of newer lines is held, and keeps lines of equal time in their order (TimeOrder)', () => {
    const order = new TimeOrder<{ time: string; n: number }>(2);
    const out = [{ time: 'b', n: 1 }, { time: 'a', n: 2 }, { time: 'b', n: 3 }, { time: 'c', n: 4 }, { time: 'a', n: 5 }].map((l) => order.push(l)?.n);
    assert.deepEqual(out, [undefined, undefined, 2, 1, 5]);
    assert.deepEqual(order.drain().map((l) => l.n), [3, 4]);
    assert.deepEqual(order.drain(), []);
  });

  it('finds a last line the follow stream left out, and a long line it left open, with one plain read from there', async () => {
    const long = `${t(5)} ${'y'.repeat(100)}`; // a piece without newline: the line continues
    const engine = cannedEngine((query) =>
      query.follow ? [...frames, frame(1, long)] : [frame(2, `${t(4)} line4\n`), frame(1, long), frame(1, `${t(6)} ${'y'.repeat(10)}\n`), frame(1, `${t(7)} last words`)],
    );
    const lines = await collect(readContainerLogs(engine.docker, 'c1', { follow: true }));
    assert.deepEqual(lines.map((l) => [l.time, l.text.length > 20 ? `y × ${l.text.length}` : l.text]), [
      [t(1), 'line1'],
      [t(2), 'line2'],
      [t(3), 'line3'],
      [t(4), 'line4'],
      [t(5), 'y × 110'],
      [t(7), 'last words'],
    ]);
    assert.equal(engine.queries[1]?.follow, false);
    assert.equal(engine.queries[1]?.since, `${Date.parse('2026-11-21T15:04:05Z') / 1000}.000000004`); // min(last line, open line)
  });

  it('follows again when the stream ends while the container still runs', async () => {
    const engine = cannedEngine((_q, n) => (n === 1 ? frames.slice(0, 2) : frames), (n) => n === 1);
    const lines = await collect(readContainerLogs(engine.docker, 'c1', { follow: true }));
    assert.deepEqual(lines.map((l) => l.text), ['line1', 'line2', 'line3', 'line4']);
    assert.deepEqual(engine.queries.map((q) => q.follow), [true, true, false]);
  });
});

const gate = engineGate('container-logs.test.ts');

describe('readContainerLogs, with real containers', { skip: gate.skip, timeout: 120_000 }, () => {
  const docker = gate.docker as Dockerode;
  const image = `${TEST_PREFIX}-logs/bb:1`;
  const containers: Dockerode.Container[] = [];
  let finished: Dockerode.Container;
  const run = async (name: string, script: string): Promise<Dockerode.Container> => {
    const c = await runContainer(docker, image, name, ['sh', '-c', script]);
    containers.push(c);
    return c;
  };

  before(async () => {
    await importBusyboxImage(docker, image);
    // Sleeps between the streams: the engine copies stdout and stderr in two goroutines, so only
    // writes some time apart have an order between the streams.
    finished = await run(
      'finished',
      "echo out1; sleep 0.05; echo err1 >&2; sleep 0.05; echo out2; echo out3; sleep 0.05; echo err2 >&2; sleep 0.05; head -c 40000 /dev/zero | tr '\\0' x; echo; printf 'last words'",
    );
    await waitExited(finished);
  });

  after(async () => {
    for (const c of containers) await removeContainer(c);
    await removeImage(docker, image);
  });

  it('reads both streams in order, with nanosecond UTC times, a line over 16 KiB whole and a last line without newline', async () => {
    const lines = await collect(readContainerLogs(docker, finished.id, {}));
    assert.deepEqual(
      lines.map((l) => [l.stream, l.text.length > 100 ? `x × ${l.text.length}` : l.text]),
      [
        ['stdout', 'out1'],
        ['stderr', 'err1'],
        ['stdout', 'out2'],
        ['stdout', 'out3'],
        ['stderr', 'err2'],
        ['stdout', 'x × 40000'],
        ['stdout', 'last words'],
      ],
    );
    assert.ok(lines.every((l) => NANO_TIME.test(l.time)), lines.map((l) => l.time).join(' '));
    assert.deepEqual(lines.map((l) => l.time), lines.map((l) => l.time).sort());
    assert.equal(lines[5]?.text, 'x'.repeat(40000));
  });

  it('keeps the last lines with tail', async () => {
    const lines = await collect(readContainerLogs(docker, finished.id, { tail: 2 }));
    assert.deepEqual(lines.map((l) => l.text.slice(0, 3)), ['xxx', 'las']);
    assert.deepEqual(await collect(readContainerLogs(docker, finished.id, { tail: 0 })), []);
  });

  it('keeps lines at or after since, to the nanosecond, in any offset', async () => {
    const all = await collect(readContainerLogs(docker, finished.id, {}));
    const third = all[2] as ContainerLogLine;
    const fourth = all[3] as ContainerLogLine; // out2 and out3 are written within the same second
    const from3 = await collect(readContainerLogs(docker, finished.id, { since: third.time }));
    assert.deepEqual(from3, all.slice(2));
    const justAfter3 = `${third.time.slice(0, 20)}${String(Number(third.time.slice(20, 29)) + 1).padStart(9, '0')}Z`;
    assert.ok(justAfter3 <= fourth.time);
    assert.deepEqual(await collect(readContainerLogs(docker, finished.id, { since: justAfter3 })), all.slice(3));
    // The same instant written with an offset (+01:00).
    const shifted = new Date(Date.parse(third.time) + 3600_000).toISOString().slice(0, 19) + third.time.slice(19, 29) + '+01:00';
    assert.deepEqual(await collect(readContainerLogs(docker, finished.id, { since: shifted })), all.slice(2));
    // since, then tail: the last line of those since the third.
    assert.deepEqual(await collect(readContainerLogs(docker, finished.id, { since: third.time, tail: 1 })), all.slice(-1));
  });

  it('follows new lines and ends by itself once the container has exited and its log is read', async () => {
    const c = await run('follow', "echo start; sleep 1; echo later; sleep 0.2; printf 'no newline'");
    const seen: { line: ContainerLogLine; at: number }[] = [];
    for await (const line of readContainerLogs(docker, c.id, { follow: true })) seen.push({ line, at: Date.now() });
    assert.deepEqual(seen.map((s) => s.line.text), ['start', 'later', 'no newline']);
    // 'start' arrived before 'later' was even written: it was followed, not read at the end.
    assert.ok((seen[0]?.at ?? Infinity) < Date.parse(seen[1]?.line.time ?? ''), JSON.stringify(seen));
    assert.equal((await c.inspect()).State.Running, false);
  });

  it('follows with tail: the last line so far, then the new ones', async () => {
    const c = await run('follow-tail', 'echo one; echo two; sleep 0.5; echo three');
    // Wait until the first two are logged, so that tail has something to cut.
    for (let i = 0; i < 100; i++) {
      if ((await collect(readContainerLogs(docker, c.id, {}))).length >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = await collect(readContainerLogs(docker, c.id, { follow: true, tail: 1 }));
    assert.deepEqual(lines.map((l) => l.text), ['two', 'three']);
  });

  it('ends quietly when the signal aborts, leaving the container running', async () => {
    const c = await run('abort', 'while :; do echo tick; sleep 0.05; done');
    const ac = new AbortController();
    const lines: ContainerLogLine[] = [];
    const t0 = Date.now();
    for await (const line of readContainerLogs(docker, c.id, { follow: true, signal: ac.signal })) {
      lines.push(line);
      if (lines.length === 3) ac.abort();
      assert.ok(lines.length <= 3, 'no line after the abort');
    }
    assert.equal(lines.length, 3);
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal((await c.inspect()).State.Running, true);
    assert.deepEqual(await collect(readContainerLogs(docker, c.id, { follow: true, signal: ac.signal })), []); // already aborted
  });

  it('rejects from the first iteration for an unknown container', async () => {
    await assert.rejects(collect(readContainerLogs(docker, `${TEST_PREFIX}-nosuch`, {})), /no such container/);
  });
});
