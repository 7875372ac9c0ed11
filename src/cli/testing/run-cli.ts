import { Readable, Writable } from 'node:stream';
import type { CliDeps, ServerLauncher } from '../cli-deps.js';
import { main } from '../program.js';

/** A writable that keeps what was written; `isTTY` makes it pass for a terminal. */
export class CapturedStream extends Writable {
  text = '';
  readonly isTTY: boolean | undefined;
  readonly columns = 120;
  readonly rows = 40;

  constructor(options: { readonly tty?: boolean } = {}) {
    super();
    this.isTTY = options.tty ? true : undefined;
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += String(chunk);
    callback();
  }
}

/** Ctrl-C on demand: `fire()` calls every listener the CLI subscribed. */
export class FakeInterrupts {
  readonly #listeners = new Set<() => void>();

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  get count(): number {
    return this.#listeners.size;
  }

  fire(): void {
    for (const l of [...this.#listeners]) l();
  }
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** stdout (and stderr) pretend to be a terminal. */
  readonly tty?: boolean;
  readonly stdinTty?: boolean;
  readonly stdinText?: string;
  readonly cwd?: string;
  readonly launcher?: ServerLauncher;
  readonly runServer?: CliDeps['runServer'];
  readonly runAgent?: CliDeps['runAgent'];
  readonly interrupts?: FakeInterrupts;
  readonly now?: number;
  /** The caller's uid; default 1000 (a normal user, as HOME is /home/test). */
  readonly uid?: number;
  /** Pass one to watch the output while the command still runs. */
  readonly stdout?: CapturedStream;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `berth <args>` in-process with captured streams and a clean environment (no NO_COLOR, no BERTH_*, uid 1000). */
export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = options.stdout ?? new CapturedStream({ tty: options.tty ?? false });
  const stderr = new CapturedStream({ tty: options.tty ?? false });
  const stdin = Object.assign(Readable.from(options.stdinText === undefined ? [] : [options.stdinText]), { isTTY: options.stdinTty ? true : undefined });
  const deps: CliDeps = {
    launcher: options.launcher ?? {
      start: () => Promise.reject(new Error('no launcher in this test')),
    },
    runServer: options.runServer ?? (() => Promise.resolve()),
    runAgent: options.runAgent ?? (() => Promise.resolve()),
    stdout,
    stderr,
    stdin,
    env: { HOME: '/home/test', ...options.env },
    cwd: options.cwd ?? '/work/app',
    uid: options.uid ?? 1000,
    ...(options.interrupts ? { onInterrupt: options.interrupts.subscribe } : {}),
    ...(options.now === undefined ? {} : { now: () => options.now as number }),
  };
  const code = await main(args, deps);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
