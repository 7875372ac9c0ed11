import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNdjson } from './ndjson.js';

async function collect(chunks: (string | Uint8Array)[]): Promise<unknown[]> {
  async function* source(): AsyncGenerator<string | Uint8Array> {
    yield* chunks;
  }
  const out: unknown[] = [];
  for await (const v of parseNdjson(source())) out.push(v);
  return out;
}

describe('parseNdjson', () => {
  it('yields one value per line', async () => {
    assert.deepEqual(await collect(['{"a":1}\n{"a":2}\n']), [{ a: 1 }, { a: 2 }]);
  });

  it('joins a line split across chunks in the middle', async () => {
    assert.deepEqual(await collect(['{"te', 'xt":"hel', 'lo"}\n{"b"', ':2}\n']), [{ text: 'hello' }, { b: 2 }]);
  });

  it('joins a multi-byte character split across chunks', async () => {
    const bytes = new TextEncoder().encode('{"s":"⊛ ok"}\n');
    assert.deepEqual(await collect([bytes.slice(0, 7), bytes.slice(7)]), [{ s: '⊛ ok' }]);
  });

  it('skips empty heartbeat lines, also with CRLF and spaces', async () => {
    assert.deepEqual(await collect(['\n', '{"a":1}\r\n', '\n  \n', '{"a":2}\n', '\n']), [{ a: 1 }, { a: 2 }]);
  });

  it('parses a last line that has no newline', async () => {
    assert.deepEqual(await collect(['{"a":1}\n{"a":', '2}']), [{ a: 1 }, { a: 2 }]);
  });

  it('throws naming the line when a line is not JSON', async () => {
    await assert.rejects(collect(['{"a":1}\nnot json\n']), /not JSON: "not json"/);
  });
});
