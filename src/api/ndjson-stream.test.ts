import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { FastifyReply } from 'fastify';
import { silentLogger } from '../lib/index.js';
import { NdjsonStream } from './ndjson-stream.js';

/** A reply whose raw response records what is written (no socket). */
function fakeReply() {
  const written: string[] = [];
  const raw = Object.assign(new EventEmitter(), {
    writableLength: 0,
    writableNeedDrain: false,
    writeHead: () => undefined,
    flushHeaders: () => undefined,
    write: (chunk: string) => (written.push(chunk), true),
    end: () => undefined,
    destroy: () => undefined,
  });
  const reply = { raw, hijack: () => undefined, request: { url: '/v1/watch' } } as unknown as FastifyReply;
  return { reply, written };
}

const options = () => ({ heartbeatMs: 60_000, maxBufferedBytes: 1 << 20, logger: silentLogger, registry: new Set<NdjsonStream>() });

describe('NdjsonStream', () => {
  it('serializes a shared value once for every stream that sends it, and the same line to each', () => {
    let serialized = 0;
    const event = Object.freeze({ revision: 7, kind: 'instance', toJSON: () => (serialized++, { revision: 7, kind: 'instance' }) });
    const a = fakeReply();
    const b = fakeReply();
    const streams = [new NdjsonStream(a.reply, options()), new NdjsonStream(b.reply, options())];
    streams[0]?.writeShared(event); // buffered until open()
    streams[0]?.open();
    streams[1]?.open();
    streams[1]?.writeShared(event);
    assert.equal(serialized, 1, 'one JSON.stringify for both streams');
    assert.deepEqual(a.written, ['{"revision":7,"kind":"instance"}\n']);
    assert.deepEqual(b.written, a.written);
    for (const s of streams) s.end();
  });

  it('serializes a value written with write() each time (it may change between writes)', () => {
    let serialized = 0;
    const value = { toJSON: () => (serialized++, { n: serialized }) };
    const r = fakeReply();
    const stream = new NdjsonStream(r.reply, options());
    stream.open();
    stream.write(value);
    stream.write(value);
    assert.equal(serialized, 2);
    assert.deepEqual(r.written, ['{"n":1}\n', '{"n":2}\n']);
    stream.end();
  });
});
