import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { ResumedStream } from '../client/index.js';
import { BerthClient } from '../client/index.js';
import { isLoopbackHost } from '../lib/index.js';
import type { CliDeps } from './cli-deps.js';
import type { CliConfig, CliContextEntry } from './cli-config.js';
import { cliConfigPath, readCliConfig, sameServer } from './cli-config.js';
import { UsageError } from './cli-error.js';
import type { Palette } from './palette.js';
import { colourAllowed, createPalette, isTty } from './palette.js';
import { cliFetch } from './http-fetch.js';
import type { RequestTimeouts } from './request-timeouts.js';
import { STREAM_IDLE_TIMEOUT_MS, resolveRequestTimeouts } from './request-timeouts.js';
import { tlsAgent } from './tls-fetch.js';

/** Where the CLI looks for a server when neither `--host` nor BERTH_HOST says (docs/api.md). */
export const DEFAULT_HOST = 'http://127.0.0.1:7420';
export const DEFAULT_GRID = 'default';
/** The data directory of a server run by root. */
export const ROOT_DATA_DIR = '/var/lib/berth';

/** Global options every command accepts (defined once on the program). */
export interface GlobalOptions {
  readonly host?: string;
  readonly grid?: string;
  /** A context of the CLI config (`berth config get-contexts`). */
  readonly context?: string;
  /** `--tls-ca FILE`: the CA (or self-signed certificate) an https server's certificate must chain to. */
  readonly tlsCa?: string;
  /** `--connect-timeout`, `--request-timeout`: durations (request-timeouts.ts). */
  readonly connectTimeout?: string;
  readonly requestTimeout?: string;
}

/** What `withHost` adds: the token of a server this process started (never a command-line flag). */
interface ContextOverrides extends GlobalOptions {
  readonly embeddedToken?: string;
}

/**
 * Everything a command's action needs, resolved once per run from the global flags, the environment and
 * the deps: the client, the grid, the output streams and their colour palette, Ctrl-C.
 */
export class CliContext {
  /** The first server of `hosts`: where tokens, contexts and messages point. */
  readonly host: string;
  /**
   * The servers the client tries in turn (`--host A,B` / `BERTH_HOST=A,B`: servers of one cluster,
   * docs/cli.md); one unless a list was given.
   */
  readonly hosts: readonly string[];
  readonly grid: string;
  /** The bearer token sent to `host`, when one was found (see `resolveToken`). */
  readonly token: string | undefined;
  /** Where the token came from, for messages: `BERTH_TOKEN`, `context local`, `…/admin.token`. */
  readonly tokenSource: string | undefined;
  readonly configPath: string;
  readonly client: BerthClient;
  /** How long the client waits for a server before it tries the next (flags, env, defaults). */
  readonly timeouts: RequestTimeouts;
  readonly tlsCa: string | undefined;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Colours for stdout; plain when piped or NO_COLOR. */
  readonly palette: Palette;
  readonly #deps: CliDeps;

  constructor(deps: CliDeps, globals: ContextOverrides) {
    this.#deps = deps;
    this.env = deps.env ?? process.env;
    this.stdout = deps.stdout ?? process.stdout;
    this.stderr = deps.stderr ?? process.stderr;
    this.stdin = deps.stdin ?? process.stdin;
    this.cwd = deps.cwd ?? process.cwd();
    this.configPath = cliConfigPath(this.env);
    const explicitHost = globals.host ?? this.env['BERTH_HOST'];
    const entry = pickContext(readCliConfig(this.configPath), globals.context ?? this.env['BERTH_CONTEXT'], explicitHost, this.configPath);
    this.hosts = normalizeHosts(explicitHost ?? entry?.server ?? DEFAULT_HOST);
    this.host = this.hosts[0] as string;
    this.grid = globals.grid ?? this.env['BERTH_GRID'] ?? DEFAULT_GRID;
    const found = globals.embeddedToken !== undefined ? { token: globals.embeddedToken, source: 'the embedded server' } : this.#resolveToken(entry);
    this.token = found?.token;
    this.tokenSource = found?.source;
    // An https server with a certificate of its own: trusted by CA file (flag, env, or the context's
    // `ca`) or by pinned fingerprint.
    this.tlsCa = globals.tlsCa ?? this.env['BERTH_TLS_CA'] ?? (entry && sameServer(entry.server, this.host) ? entry.ca : undefined);
    const fingerprint = this.env['BERTH_TLS_FINGERPRINT'];
    const trust = fingerprint ? { fingerprint } : this.tlsCa ? { caFile: this.tlsCa } : undefined;
    this.timeouts = resolveRequestTimeouts(globals, this.env);
    const httpsAgent = trust && this.hosts.some((h) => h.startsWith('https:')) ? tlsAgent(trust) : undefined;
    this.client = new BerthClient({
      baseUrl: this.hosts,
      ...(this.token ? { token: this.token } : {}),
      fetch: cliFetch({ connectTimeoutMs: this.timeouts.connectMs, ...(httpsAgent ? { httpsAgent } : {}) }),
      timeouts: { answerMs: this.timeouts.requestMs, streamIdleMs: STREAM_IDLE_TIMEOUT_MS },
    });
    this.palette = createPalette(colourAllowed(this.stdout, this.env));
  }

  /** The context of the command whose action runs (global options are read from its ancestors). */
  static of(deps: CliDeps, command: Command): CliContext {
    const { host, grid, context, tlsCa, connectTimeout, requestTimeout } = command.optsWithGlobals<GlobalOptions>();
    return new CliContext(deps, {
      ...(host === undefined ? {} : { host }),
      ...(grid === undefined ? {} : { grid }),
      ...(context === undefined ? {} : { context }),
      ...(tlsCa === undefined ? {} : { tlsCa }),
      ...(connectTimeout === undefined ? {} : { connectTimeout }),
      ...(requestTimeout === undefined ? {} : { requestTimeout }),
    });
  }

  /** The same context talking to another server (`berth up`'s embedded one) with its token. */
  withHost(host: string, token: string): CliContext {
    return new CliContext(this.#deps, { host, grid: this.grid, embeddedToken: token, ...(this.tlsCa ? { tlsCa: this.tlsCa } : {}), connectTimeout: `${this.timeouts.connectMs}ms`, requestTimeout: `${this.timeouts.requestMs}ms` });
  }

  /**
   * The token for `host`: BERTH_TOKEN; else the token of the chosen context when it names this server;
   * else, for a server on this machine's loopback, the admin token of the default data directory when
   * this user can read it (the server wrote it at first start: `berth up` and `berth server` work with no
   * login step, as k3s' kubeconfig does).
   */
  #resolveToken(entry: CliContextEntry | undefined): { token: string; source: string } | undefined {
    const fromEnv = this.env['BERTH_TOKEN']?.trim();
    if (fromEnv) return { token: fromEnv, source: 'BERTH_TOKEN' };
    if (entry?.token && sameServer(entry.server, this.host)) return { token: entry.token, source: `context "${entry.name}" of ${this.configPath}` };
    if (!isLoopbackHost(new URL(this.host).hostname)) return undefined;
    const path = join(this.dataDir(undefined), 'admin.token');
    try {
      const token = readFileSync(path, 'utf8').trim();
      return token ? { token, source: path } : undefined;
    } catch {
      return undefined;
    }
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

  /**
   * The stderr note of a followed stream (`logs -f`, `events -f`, `up`) that went on on another server
   * after its own broke: `berth: the stream from A broke (lost the connection mid-stream: terminated);
   * it goes on from B`. Nothing was printed twice or left out (client/stream-cursor.ts).
   */
  noteResumed(resumed: ResumedStream): void {
    this.note(`berth: the stream from ${resumed.from} broke (${resumed.reason}); it goes on from ${resumed.to}`);
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

  /**
   * `--data-dir` > BERTH_DATA_DIR > for root /var/lib/berth (as k3s and Docker: instances run as an
   * unprivileged user, who could not pass through /root) > $XDG_DATA_HOME/berth > ~/.local/share/berth.
   */
  dataDir(flag: string | undefined): string {
    if (flag) return flag;
    const fromEnv = this.env['BERTH_DATA_DIR'];
    if (fromEnv) return fromEnv;
    if ((this.#deps.uid ?? process.getuid?.()) === 0) return ROOT_DATA_DIR;
    const xdg = this.env['XDG_DATA_HOME'];
    if (xdg) return join(xdg, 'berth');
    return join(this.env['HOME'] ?? homedir(), '.local', 'share', 'berth');
  }
}

/**
 * The context to use: the one named (an error when the config has none of that name); else, when a host
 * is given, the context for that server if any; else the current context.
 */
function pickContext(config: CliConfig, name: string | undefined, host: string | undefined, path: string): CliContextEntry | undefined {
  if (name !== undefined) {
    const entry = config.contexts.find((c) => c.name === name);
    if (!entry) throw new UsageError(`no context "${name}" in ${path}: \`berth config get-contexts\` lists them, \`berth login\` adds one`);
    return entry;
  }
  if (host !== undefined) {
    const url = normalizeHosts(host)[0] as string;
    return config.contexts.find((c) => sameServer(c.server, url));
  }
  return config.contexts.find((c) => c.name === config.currentContext);
}


/** Ctrl-C, SIGTERM and SIGHUP of this process; returns the unsubscribe. */
export function processInterrupts(listener: () => void): () => void {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, listener);
  return () => {
    for (const s of signals) process.off(s, listener);
  };
}

/**
 * `--host` / BERTH_HOST as a list: one server, or servers of one cluster separated by commas
 * (`https://10.0.0.1:7420,https://10.0.0.2:7420`), each as `normalizeHost` takes it; duplicates dropped.
 * @throws UsageError naming the entry that is not a server URL, or for an empty list.
 */
export function normalizeHosts(hosts: string): string[] {
  const entries = hosts.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (entries.length === 0) throw new UsageError(`invalid --host / BERTH_HOST "${hosts}": give a URL such as http://127.0.0.1:7420, or several separated by commas`);
  return [...new Set(entries.map(normalizeHost))];
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
