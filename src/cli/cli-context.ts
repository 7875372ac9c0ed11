import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { BerthClient } from '../client/index.js';
import type { CliDeps } from './cli-deps.js';
import { UsageError } from './cli-error.js';
import type { Palette } from './palette.js';
import { colourAllowed, createPalette, isTty } from './palette.js';

/** Where the CLI looks for a server when neither `--host` nor BERTH_HOST says (docs/api.md). */
export const DEFAULT_HOST = 'http://127.0.0.1:7420';
export const DEFAULT_GRID = 'default';

/** Global options every command accepts (defined once on the program). */
export interface GlobalOptions {
  readonly host?: string;
  readonly grid?: string;
}

/**
 * Everything a command's action needs, resolved once per run from the global flags, the environment and
 * the deps: the client, the grid, the output streams and their colour palette, Ctrl-C.
 */
export class CliContext {
  readonly host: string;
  readonly grid: string;
  readonly client: BerthClient;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Colours for stdout; plain when piped or NO_COLOR. */
  readonly palette: Palette;
  readonly #deps: CliDeps;

  constructor(deps: CliDeps, globals: GlobalOptions) {
    this.#deps = deps;
    this.env = deps.env ?? process.env;
    this.stdout = deps.stdout ?? process.stdout;
    this.stderr = deps.stderr ?? process.stderr;
    this.stdin = deps.stdin ?? process.stdin;
    this.cwd = deps.cwd ?? process.cwd();
    this.host = normalizeHost(globals.host ?? this.env['BERTH_HOST'] ?? DEFAULT_HOST);
    this.grid = globals.grid ?? this.env['BERTH_GRID'] ?? DEFAULT_GRID;
    this.client = new BerthClient({ baseUrl: this.host });
    this.palette = createPalette(colourAllowed(this.stdout, this.env));
  }

  /** The context of the command whose action runs (global options are read from its ancestors). */
  static of(deps: CliDeps, command: Command): CliContext {
    return new CliContext(deps, command.optsWithGlobals<GlobalOptions>());
  }

  /** The same context talking to another server (`berth up`'s embedded one). */
  withHost(host: string): CliContext {
    return new CliContext(this.#deps, { host, grid: this.grid });
  }

  get deps(): CliDeps {
    return this.#deps;
  }

  /** True when stdout is a terminal: in-place redraws instead of plain lines. */
  get interactive(): boolean {
    return isTty(this.stdout);
  }

  /** Writes `text` and a newline to stdout. */
  out(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** Writes `text` and a newline to stderr (notes and hints that should not pollute piped output). */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  /** `berth service deploy web`, with `--grid` when it is not the default, for hints. */
  commandHint(args: string): string {
    return this.grid === DEFAULT_GRID ? `berth ${args}` : `berth ${args} --grid ${this.grid}`;
  }

  /**
   * Calls `listener` on every Ctrl-C — and on SIGTERM and SIGHUP, so that `up` run under a supervisor,
   * `timeout` or a closed terminal still stops what it started — until the returned function is called.
   */
  onInterrupt(listener: () => void): () => void {
    return (this.#deps.onInterrupt ?? processInterrupts)(listener);
  }

  /**
   * An AbortSignal that aborts on the first Ctrl-C; `dispose()` unsubscribes. Commands that follow a
   * stream use it to end cleanly with exit code 0.
   */
  interruptSignal(): { signal: AbortSignal; dispose(): void } {
    const controller = new AbortController();
    const dispose = this.onInterrupt(() => controller.abort());
    return { signal: controller.signal, dispose };
  }

  /** `--data-dir` > BERTH_DATA_DIR > $XDG_DATA_HOME/berth > ~/.local/share/berth. */
  dataDir(flag: string | undefined): string {
    if (flag) return flag;
    const fromEnv = this.env['BERTH_DATA_DIR'];
    if (fromEnv) return fromEnv;
    const xdg = this.env['XDG_DATA_HOME'];
    if (xdg) return join(xdg, 'berth');
    return join(this.env['HOME'] ?? homedir(), '.local', 'share', 'berth');
  }
}

/** Ctrl-C, SIGTERM and SIGHUP of this process; returns the unsubscribe. */
export function processInterrupts(listener: () => void): () => void {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, listener);
  return () => {
    for (const s of signals) process.off(s, listener);
  };
}

/** Accepts `host:port` and `http(s)://host:port[/]`; gives a URL without a trailing `/`. */
export function normalizeHost(host: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `http://${host}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid --host / BERTH_HOST "${host}": give a URL such as http://127.0.0.1:7420`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`invalid --host / BERTH_HOST "${host}": only http:// and https:// are supported`);
  }
  return url.toString().replace(/\/+$/, '');
}
