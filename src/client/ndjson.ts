/**
 * Parses a stream of NDJSON bytes (one JSON value per line) into values.
 *
 * Lines may be split across chunks anywhere, even inside a multi-byte character; empty lines (the
 * server's heartbeats, every 15 s) are skipped; a last line without its newline is still parsed.
 * @throws SyntaxError naming the line for text that is not JSON.
 */
export async function* parseNdjson(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<unknown, void, undefined> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      const value = parseLine(line);
      if (value !== SKIP) yield value;
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  const value = parseLine(pending);
  if (value !== SKIP) yield value;
}

const SKIP = Symbol('skip');

function parseLine(line: string): unknown {
  const text = line.trim();
  if (text === '') return SKIP;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SyntaxError(`the server sent a stream line that is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
}
