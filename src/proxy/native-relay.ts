/*
 * The client side of berth-relay (native/relay/), the native TCP data plane: spawns it, speaks
 * its line protocol on stdin/stdout and keeps its reported connection counts. `ServiceProxy` decides
 * what to listen on and where to send; this class only carries it. See docs/proxy.md "Native relay".
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Logger } from '../lib/index.js';
import { nativeBinaryPath, silentLogger } from '../lib/index.js';

/** Where `npm run build` puts the relay. */
export function defaultRelayPath(): string {
  return nativeBinaryPath('berth-relay');
}

export interface NativeRelayOptions {
  /** The compiled relay. Default `defaultRelayPath()`. */
  readonly binary?: string;
  /** Relay threads (each an epoll loop; listeners are shared by all). 1–64. */
  readonly threads: number;
  /** A connect to a backend not done within this long is given up and tried on another, ms; 0: never. */
  readonly connectTimeoutMs: number;
  /** The relay must report ready within this long, ms. Default 5000. */
  readonly startTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A listen that failed: the errno name (EADDRINUSE, EADDRNOTAVAIL, EACCES…) and node's wording. */
export interface ListenFailure {
  readonly code: string;
  readonly message: string;
}

export interface RelayExit {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * One running berth-relay. Events: 'count' (backendKey, before, after) on every reported change of a
 * backend's held connections (coalesced by the relay every 10 ms); 'exit' (RelayExit) when it ends
 * without `stop()` — its listeners and connections are gone with it.
 *
 * Commands are written in order and the relay applies them in order; `commit()` resolves once every
 * relay thread uses everything written before it (and sockets of listeners closed before it are closed).
 */
export class NativeRelay extends EventEmitter {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly listens = new Map<number, (failure: ListenFailure | undefined) => void>();
  private readonly commits = new Map<number, () => void>();
  private readonly loads = new Map<number, (loads: number[]) => void>();
  /** Held connections per backend key (`ip:port`), as last reported (dropped to 0 when the relay ends). */
  private readonly held = new Map<string, number>();
  private seq = 0;
  private stopping = false;
  private exited = false;
  private readonly logger: Logger;

  constructor(private readonly options: NativeRelayOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the relay; resolves when it reports ready. Rejects when it cannot run (missing binary: run `npm run build`). */
  start(): Promise<void> {
    const binary = this.options.binary ?? defaultRelayPath();
    const child = spawn(binary, [String(this.options.threads), String(this.options.connectTimeoutMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdin.on('error', () => {}); // a dead relay: reported by 'exit'
    child.stderr.on('data', (chunk: Buffer) => this.logger.warn({ relay: child.pid }, chunk.toString().trim()));
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (ready) return;
        child.kill('SIGKILL');
        reject(new Error(`berth-relay did not report ready within ${this.options.startTimeoutMs ?? 5000} ms`));
      }, this.options.startTimeoutMs ?? 5000);
      child.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const hint = error.code === 'ENOENT' ? ' (run `npm run build` to compile native/relay/)' : '';
        reject(new Error(`cannot run berth-relay at ${binary}: ${error.message}${hint}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.gone(child, code, signal);
        if (!ready) reject(new Error(`berth-relay exited before it was ready (${signal ?? `status ${code}`})`));
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!ready && line.startsWith('R ')) {
          ready = true;
          clearTimeout(timer);
          resolve();
          return;
        }
        this.onLine(line);
      });
    });
  }

  /** Opens a listening socket in the relay (served once a commit routes it). Resolves with the failure, if any; never rejects. */
  listen(id: number, host: string, port: number): Promise<ListenFailure | undefined> {
    if (this.exited) return Promise.resolve({ code: 'RELAY_EXIT', message: 'berth-relay is not running' });
    return new Promise((resolve) => {
      this.listens.set(id, resolve);
      this.write(`L ${id} ${host} ${port}\n`);
    });
  }

  /** Stops accepting on a listener; its socket is closed once the next commit is in use everywhere. */
  close(id: number): void {
    this.write(`X ${id}\n`);
  }

  /**
   * Sets a service port's backends (`ip:port` / `[ip6]:port` keys). `affinitySeconds` 0: round robin;
   * else ClientIP affinity with that idle timeout. `maxAttempts`: connects tried per client connection.
   */
  defineService(id: number, affinitySeconds: number, maxAttempts: number, backends: readonly string[]): void {
    this.write(`S ${id} ${affinitySeconds} ${maxAttempts}${backends.map((b) => ` ${b}`).join('')}\n`);
  }

  deleteService(id: number): void {
    this.write(`D ${id}\n`);
  }

  /** Sends a listener's connections to a service port. */
  route(listenerId: number, serviceId: number): void {
    this.write(`M ${listenerId} ${serviceId}\n`);
  }

  /** Publishes everything written so far; resolves when every relay thread uses it (at once when the relay is gone). */
  commit(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.commits.set(seq, resolve);
      this.write(`C ${seq}\n`);
    });
  }

  /** Connections each relay thread holds now (empty when the relay is gone). */
  threadLoads(): Promise<number[]> {
    if (this.exited) return Promise.resolve([]);
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.loads.set(seq, resolve);
      this.write(`T ${seq}\n`);
    });
  }

  /** Ends the relay (EOF on its stdin; SIGKILL after `graceMs`). Its listeners close and its connections are cut. */
  async stop(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exited) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private write(line: string): void {
    if (!this.exited) this.child?.stdin.write(line);
  }

  private onLine(line: string): void {
    const [op, a, b, ...rest] = line.split(' ');
    if (op === 'N' && a !== undefined && b !== undefined) {
      const before = this.held.get(a) ?? 0;
      const after = Number(b);
      if (after > 0) this.held.set(a, after);
      else this.held.delete(a);
      if (after !== before) this.emit('count', a, before, after);
    } else if (op === 'L' && a !== undefined) {
      const resolve = this.listens.get(Number(a));
      this.listens.delete(Number(a));
      resolve?.(b === 'ok' ? undefined : { code: rest[0] ?? 'ERROR', message: rest.slice(1).join(' ') });
    } else if (op === 'A' && a !== undefined) {
      const resolve = this.commits.get(Number(a));
      this.commits.delete(Number(a));
      resolve?.();
    } else if (op === 'T' && a !== undefined) {
      const resolve = this.loads.get(Number(a));
      this.loads.delete(Number(a));
      resolve?.([b, ...rest].filter((x): x is string => x !== undefined).map(Number));
    } else if (op === 'E') {
      this.logger.warn({ relay: this.child?.pid }, line.slice(2));
    }
  }

  private gone(child: ChildProcessWithoutNullStreams, code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    for (const resolve of this.listens.values()) resolve({ code: 'RELAY_EXIT', message: 'berth-relay exited' });
    this.listens.clear();
    for (const resolve of this.commits.values()) resolve();
    this.commits.clear();
    for (const resolve of this.loads.values()) resolve([]);
    this.loads.clear();
    for (const [key, n] of this.held) this.emit('count', key, n, 0);
    this.held.clear();
    if (!this.stopping) this.emit('exit', { pid: child.pid ?? 0, code, signal } satisfies RelayExit);
  }
}
