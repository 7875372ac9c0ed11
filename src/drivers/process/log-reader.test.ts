import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ContainerLogLine } from '../driver.js';
import { formatCriRecord, LineJoiner, parseCriRecord } from './cri-log.js';
import { parseExitFile } from './exit-file.js';
import { readContainerLog } from './log-reader.js';
import { parseProcStat } from './proc-table.js';
import { scratchDir } from './test-support.js';

const scratch = scratchDir('log-reader');
after(() => scratch.dispose());
let seq = 0;

/** A fresh log directory with `files` written as given: name → records. */
function logDir(files: Record<string, string[]>): { logPath: string; exitFile: string } {
  const dir = join(scratch.path, `c${++seq}`);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  for (const [name, records] of Object.entries(files)) writeFileSync(join(dir, 'logs', name), records.join(''));
  return { logPath: join(dir, 'logs', 'main.log'), exitFile: join(dir, 'main.exit.json') };
}

const t = (s: number): string => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000000000Z`;
const F = (s: number, text: string, stream: 'stdout' | 'stderr' = 'stdout'): string => formatCriRecord(t(s), stream, false, text);
const P = (s: number, text: string, stream: 'stdout' | 'stderr' = 'stdout'): string => formatCriRecord(t(s), stream, true, text);

async function read(files: { logPath: string; exitFile: string }, options = {}): Promise<ContainerLogLine[]> {
  const out: ContainerLogLine[] = [];
  for await (const line of readContainerLog(files, { pollMs: 20, ...options })) out.push(line);
  return out;
}

void describe('CRI log records', () => {
  void it('parses F and P records, keeping spaces inside the text and empty texts', () => {
    const r = parseCriRecord(Buffer.from('2026-01-01T00:00:00.000000001Z stderr F  two  spaces '));
    assert.equal(r?.stream, 'stderr');
    assert.equal(r?.partial, false);
    assert.equal(r?.text.toString(), ' two  spaces ');
    assert.equal(parseCriRecord(Buffer.from(`${t(1)} stdout P `))?.text.length, 0);
    assert.equal(parseCriRecord(Buffer.from(`${t(1)} stdout F`))?.text.length, 0);
  });

  void it('rejects lines that are not CRI records', () => {
    for (const bad of ['', 'hello', `${t(1)} stdin F x`, `${t(1)} stdout X x`, `${t(1)} stdout Fx`]) {
      assert.equal(parseCriRecord(Buffer.from(bad)), undefined, bad);
    }
  });

  void it('joins pieces per stream, even interleaved, and decodes a character split across pieces', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const joiner = new LineJoiner();
    const rec = (stream: 'stdout' | 'stderr', partial: boolean, text: Buffer, s: number) => ({ time: t(s), stream, partial, text });
    assert.equal(joiner.push(rec('stdout', true, Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]), 1)), undefined);
    assert.deepEqual(joiner.push(rec('stderr', false, Buffer.from('err'), 2)), { time: t(2), stream: 'stderr', text: 'err' });
    assert.deepEqual(joiner.push(rec('stdout', false, Buffer.concat([euro.subarray(1), Buffer.from('b')]), 3)), {
      time: t(1),
      stream: 'stdout',
      text: 'a€b',
    });
  });
});

void describe('readContainerLog', () => {
  void it('reads rotated files oldest first, then the current one, joining a line split across files', async () => {
    const files = logDir({
      'main.log.1': [F(1, 'one')],
      'main.log.2': [F(2, 'two'), P(3, 'thr')],
      'main.log': [F(3, 'ee'), F(4, 'oops', 'stderr'), F(5, 'four')],
    });
    const lines = await read(files);
    assert.deepEqual(lines.map((l) => `${l.stream}:${l.text}`), ['stdout:one', 'stdout:two', 'stdout:three', 'stderr:oops', 'stdout:four']);
    assert.equal(lines[2]?.time, t(3));
  });

  void it('orders rotated files by N as a number, and ignores names the shim does not write', async () => {
    const files = logDir({
      'main.log.10': [F(3, 'ten')],
      'main.log.9': [F(2, 'nine')],
      'main.log.09': [F(1, 'not ours')],
      'main.log.x': [F(1, 'not ours either')],
      'main.log': [F(4, 'live')],
    });
    assert.deepEqual((await read(files)).map((l) => l.text), ['nine', 'ten', 'live']);
  });

  void it('keeps the last lines for tail and the recent ones for since', async () => {
    const files = logDir({ 'main.log.1': [F(1, 'a'), F(2, 'b')], 'main.log': [F(3, 'c'), F(4, 'd')] });
    assert.deepEqual((await read(files, { tail: 3 })).map((l) => l.text), ['b', 'c', 'd']);
    assert.deepEqual((await read(files, { tail: 0 })).map((l) => l.text), []);
    assert.deepEqual((await read(files, { tail: 10 })).map((l) => l.text), ['a', 'b', 'c', 'd']);
    assert.deepEqual((await read(files, { since: t(2) })).map((l) => l.text), ['b', 'c', 'd']);
    assert.deepEqual((await read(files, { since: t(2), tail: 1 })).map((l) => l.text), ['d']);
  });

  void it('leaves a record still being written for later', async () => {
    const files = logDir({ 'main.log': [F(1, 'done'), `${t(2)} stdout F half`] });
    assert.deepEqual((await read(files)).map((l) => l.text), ['done']);
  });

  void it('yields nothing for a container that has written nothing yet', async () => {
    const files = logDir({});
    assert.deepEqual(await read(files), []);
  });

  void it('follows appends and a rotation, and ends once the exit file exists', async () => {
    const files = logDir({ 'main.log': [F(1, 'first')] });
    const seen: string[] = [];
    const following = (async () => {
      for await (const line of readContainerLog(files, { follow: true, pollMs: 20, signal: AbortSignal.timeout(5000) })) {
        seen.push(line.text);
        if (line.text === 'first') {
          appendFileSync(files.logPath, F(2, 'second') + P(3, 'spl'));
          renameSync(files.logPath, `${files.logPath}.1`); // what the shim does when the file passed maxBytes
          appendFileSync(files.logPath, F(3, 'it') + F(4, 'last'));
          writeFileSync(files.exitFile, '{"exitCode":0,"signal":null,"finishedAt":"x"}');
        }
      }
    })();
    await following;
    assert.deepEqual(seen, ['first', 'second', 'split', 'last']);
  });

  void it('follows a reader that fell behind rotations whose files retention deleted, losing and repeating nothing', async () => {
    const files = logDir({ 'main.log.1': [F(1, 'zero')], 'main.log': [F(2, 'first')] });
    const seen: string[] = [];
    for await (const line of readContainerLog(files, { follow: true, pollMs: 20, signal: AbortSignal.timeout(5000) })) {
      seen.push(line.text);
      if (line.text === 'first') {
        // Two rotations with maxFiles 1 while the reader still holds the live file open: the file it read
        // last (.1) and the one it is reading (.2) are both deleted.
        appendFileSync(files.logPath, F(3, 'second'));
        renameSync(files.logPath, `${files.logPath}.2`);
        appendFileSync(files.logPath, F(4, 'third'));
        renameSync(files.logPath, `${files.logPath}.3`);
        appendFileSync(files.logPath, F(5, 'fourth'));
        unlinkSync(`${files.logPath}.1`);
        unlinkSync(`${files.logPath}.2`);
        writeFileSync(files.exitFile, '{"exitCode":0,"signal":null,"finishedAt":"x"}');
      }
    }
    assert.deepEqual(seen, ['zero', 'first', 'second', 'third', 'fourth']);
  });

  void it('ends a follow quietly when aborted', async () => {
    const files = logDir({ 'main.log': [F(1, 'only')] });
    const abort = new AbortController();
    const seen: string[] = [];
    setTimeout(() => abort.abort(), 100);
    for await (const line of readContainerLog(files, { follow: true, pollMs: 20, signal: abort.signal })) seen.push(line.text);
    assert.deepEqual(seen, ['only']);
  });
});

void describe('parseProcStat', () => {
  void it('counts fields from the last parenthesis, whatever the command name holds', () => {
    const fields = ['S', '10', '20', '20', '0', '-1', '4194304', '0', '0', '0', '0', '7', '5', '0', '0', '20', '0', '1', '0', '12345', '1000', '42'];
    const entry = parseProcStat(`4242 (a) (b c) ${fields.join(' ')} 0 0\n`);
    assert.deepEqual(entry, { pid: 4242, state: 'S', ppid: 10, pgrp: 20, cpuTicks: 12, startTicks: 12345, rssPages: 42 });
  });
});

void describe('parseExitFile', () => {
  void it('reads what the shim writes, and turns garbage into exit code 255 with a reason', () => {
    assert.deepEqual(parseExitFile('{"exitCode":137,"signal":"SIGKILL","finishedAt":"2026-01-01T00:00:00.1Z"}\n'), {
      exitCode: 137,
      signal: 'SIGKILL',
      finishedAt: '2026-01-01T00:00:00.1Z',
    });
    assert.deepEqual(parseExitFile('{"exitCode":0,"signal":null}'), { exitCode: 0 });
    assert.equal(parseExitFile('{"exit').exitCode, 255);
    assert.match(parseExitFile('{}').message ?? '', /exit file unreadable/);
  });
});
