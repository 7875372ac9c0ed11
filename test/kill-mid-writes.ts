/**
 * A crash in the middle of writes, with a real process: `killMidWrites` runs a script in a child Node
 * (with tsx, so it may import the project's .ts modules by file URL), reads the `ack …` lines it prints
 * after each acknowledged write, and SIGKILLs it once `killAfter` have come (or after 30 s, which then
 * fails the assertion on their count). The caller reopens the data and checks every acknowledged write.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project's root: the child runs there, where tsx resolves. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A project source file's URL for the child script's imports, e.g. `moduleUrl('src/store/index.ts')`. */
export function moduleUrl(pathFromRoot: string): string {
  return pathToFileURL(join(ROOT, pathFromRoot)).href;
}

export interface KillMidWrites {
  /** Where the script is written (a test's temporary directory). */
  readonly dir: string;
  /** The script's source: it writes and prints `ack <text>` after each write it got acknowledged. */
  readonly source: string;
  /** Its arguments (process.argv[2] …), e.g. the data file. */
  readonly args: readonly string[];
  /** SIGKILL once this many acks have been read. */
  readonly killAfter: number;
}

/**
 * Runs the writer and kills it mid-way. Returns the text after `ack ` of every acknowledgement read, in
 * order. Asserts that SIGKILL ended it and that at least `killAfter` writes were acknowledged.
 */
export async function killMidWrites({ dir, source, args, killAfter }: KillMidWrites): Promise<string[]> {
  const script = join(dir, `writer-${killAfter}-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(script, source);
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const acks: string[] = [];
  let buffer = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('ack ')) acks.push(line.slice(4));
    if (acks.length >= killAfter) child.kill('SIGKILL');
  });
  const signal = await exited;
  clearTimeout(timeout);
  assert.equal(signal, 'SIGKILL');
  assert.ok(acks.length >= killAfter, `the writer acknowledged ${acks.length} writes before it was killed`);
  return acks;
}
