import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instance, service } from '../../src/cli/testing/fixtures.js';
import { StubApi } from '../../src/cli/testing/stub-api.js';
import { BIN } from './harness.js';

/*
 * The real `berth` binary writing into a pipe whose reader went away (`| true`, `| head`): it ends
 * quietly with 141 (SIGPIPE's shell status), never with "write EPIPE" and a stack trace. The API is
 * the CLI tests' stub: the pipe is the subject here, not the server.
 */

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

function exitOf(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<Exit> {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`berth did not end within ${timeoutMs} ms after its reader went away; stderr:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' can come before the last stderr bytes: wait for the stream to end too.
      if (child.stderr && !child.stderr.readableEnded) child.stderr.once('end', () => resolve({ code, signal, stderr }));
      else resolve({ code, signal, stderr });
    });
  });
}

describe('berth writing into a closed pipe', () => {
  const stub = new StubApi();
  const dir = mkdtempSync(join(tmpdir(), 'berth-pipes-'));
  before(async () => {
    await stub.start();
    stub.seed(service({ deployedGeneration: 1, spec: { replicas: 2 } }), [instance({ slot: 1 }), instance({ slot: 2 })]);
  });
  after(async () => {
    await stub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('`service show web -o json | true` ends with 141 and prints nothing on stderr', async () => {
    // A FIFO whose only reader is closed before berth starts: its first write fails with EPIPE,
    // deterministically (a real `| true` races berth's start-up).
    const fifo = join(dir, 'show.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const reader = openSync(fifo, 'r+'); // read-write: opening does not block for a writer
    const writer = openSync(fifo, 'w');
    closeSync(reader);
    let child;
    try {
      child = spawn(process.execPath, [BIN, '--host', stub.url, 'service', 'show', 'web', '-o', 'json'], {
        stdio: ['ignore', writer, 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      });
    } finally {
      closeSync(writer);
    }
    const exit = await exitOf(child, 20_000);
    assert.equal(exit.stderr, '', 'no stack trace, no error line');
    assert.deepEqual([exit.code, exit.signal], [141, null]);
  });

  it('`service monitor web | head -2` ends with 141 once head has gone, and quietly', async () => {
    const child = spawn(process.execPath, [BIN, '--host', stub.url, 'service', 'monitor', 'web', '--interval', '0.05s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    const exited = exitOf(child, 20_000);
    // Read the first frame, as head does, then close the reading end.
    let seen = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        seen += c.toString();
        if (seen.includes('web-2')) resolve();
      });
      child.once('exit', () => resolve());
    });
    assert.match(seen, /web-1[\s\S]*web-2/, 'monitor drew a frame first');
    child.stdout.destroy();
    const exit = await exited;
    assert.equal(exit.stderr, '', 'no stack trace, no error line');
    assert.deepEqual([exit.code, exit.signal], [141, null]);
  });
});
