/*
 * The parent side of the multi-process proxy: forks the proxy worker processes, hands them the
 * listening sockets, feeds them every snapshot, waits for their acknowledgements and collects their
 * connection counts. A worker that dies is reported and replaced (with backoff); one that does not
 * acknowledge a sync within `ackTimeoutMs` is killed, so that "the tables in use" never include a
 * table older than the last acknowledged sync.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import type { EndpointsSnapshot } from '../model/index.js';
import type { Logger } from '../lib/index.js';
import { overloaded } from './relay-engine.js';
import type { ToParent, ToWorker } from './worker-protocol.js';
import { sendSocket } from './worker-protocol.js';

export interface WorkerPoolOptions {
  /** Worker processes to keep running (≥ 1). */
  readonly size: number;
  /** The worker's entry module (proxy-worker.js, or .ts under tsx). */
  readonly entry: string;
  readonly nodeAddresses: readonly string[];
  readonly maxConnectAttempts: number;
  /** How long a worker batches connection count changes before sending them, ms. */
  readonly countFlushMs: number;
  /** A worker that has not started or acknowledged a sync after this long is killed (and replaced), ms. */
  readonly ackTimeoutMs: number;
  readonly logger: Logger;
  /** A worker's count of active connections to `backendKey` went from `before` to `after`. */
  readonly onCount: (backendKey: string, before: number, after: number) => void;
  /** A listener problem in a worker, or a worker that died (`listener` is then `worker <pid>`). */
  readonly onError: (error: { readonly listener: string; readonly code: string; readonly message: string }) => void;
  /** A worker handed over a client connection it accepted on the shared listener `key`. */
  readonly onConnection: (client: Socket, key: string) => void;
}

/** One worker process as `ServiceProxy.workers()` reports it. */
export interface WorkerStatus {
  readonly pid: number | undefined;
  readonly state: 'starting' | 'ready' | 'exited';
  /** Active TCP connections this worker relays (as last reported; counts are batched). */
  readonly activeConnections: number;
  /** Listening sockets this worker accepts on. */
  readonly listeners: number;
  /** Client connections this worker relays (its load, as last reported). */
  readonly clients: number;
  /** Connections handed between the parent and this worker, either way, to even out their loads. */
  readonly handOffs: number;
}

interface Current {
  readonly seq: number;
  readonly snapshot: EndpointsSnapshot;
  readonly listeners: ReadonlyMap<string, Server>;
}

interface Slot {
  proc: ChildProcess | undefined;
  state: 'starting' | 'ready' | 'exited';
  /** The listening sockets this worker holds (by listener key), so each is handed over once. */
  given: Map<string, Server>;
  counts: Map<string, number>;
  /** Client connections as last reported, plus those handed to it since. */
  load: number;
  handOffs: number;
  /** Sockets handed to this worker whose sending has not completed (destroyed if the worker dies). */
  inFlight: Set<Socket>;
  acks: Map<number, () => void>;
  exited: Promise<void>;
  /** Resolves once the worker is first ready or has exited (what `start()` waits for). */
  settled: Promise<void>;
  failures: number;
  startedAt: number;
  respawn: NodeJS.Timeout | undefined;
}

const STOP_GRACE_MS = 2000;
const MAX_RESPAWN_DELAY_MS = 5000;
/** Set in a worker's environment: code running there never forks workers of its own. */
export const WORKER_ENV = 'BERTH_PROXY_WORKER';

/**
 * Node flags a worker inherits: how modules load (a TypeScript loader in tests, source maps) and how the
 * runtime behaves. Anything else is dropped with its value: above all `-e`/`-p` (their script would run
 * instead of the worker, which would fork again), `--test*`, `--watch*` and `--inspect*` (a second
 * inspector on the same port).
 */
const INHERITED = /^(--import|--require|-r|--loader|--experimental-loader|--conditions|-C|--enable-source-maps|--no-warnings|--no-deprecation|--pending-deprecation|--throw-deprecation|--trace-warnings|--trace-deprecation|--trace-uncaught|--unhandled-rejections|--experimental-[a-z-]+|--no-experimental-[a-z-]+|--max-old-space-size|--max-semi-space-size|--stack-size|--preserve-symlinks|--dns-result-order|--use-openssl-ca|--use-bundled-ca|--openssl-config|--disable-proto|--frozen-intrinsics)$/;

/** The flags of `execArgv` (node's own, values as separate tokens or after `=`) a worker inherits. */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  let keepingValue = false;
  for (const token of execArgv) {
    if (!token.startsWith('-')) {
      if (keepingValue) kept.push(token); // the value of the flag before
      continue;
    }
    const keep = INHERITED.test(token.split('=')[0] as string);
    if (keep) kept.push(token);
    keepingValue = keep && !token.includes('=');
  }
  return kept;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private current: Current | undefined;
  private stopping = false;
  private loadTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Forks the workers; resolves when each is ready (or failed to start: that is reported and retried). */
  async start(): Promise<void> {
    this.stopping = false;
    for (let i = 0; i < this.options.size; i++) {
      const slot = { failures: 0 } as Slot;
      this.slots.push(slot);
      this.spawn(slot);
    }
    await Promise.all(this.slots.map((s) => s.settled));
  }

  /**
   * Gives every running worker `snapshot` and the listening sockets it is to accept on (those it holds
   * and that are not in `listeners` it closes). Resolves when each acknowledged it, or exited.
   */
  async sync(seq: number, snapshot: EndpointsSnapshot, listeners: ReadonlyMap<string, Server>): Promise<void> {
    this.current = { seq, snapshot, listeners };
    if (this.stopping) return;
    await Promise.all(this.slots.filter((s) => s.state === 'ready').map((s) => this.sendSync(s, this.current as Current)));
  }

  /**
   * Offered a connection this process accepted on the shared listener `key` while relaying `local`
   * connections: hands it to the least loaded worker holding that listener when this process is clearly
   * busier (`overloaded`). True when the socket was taken.
   */
  handOff(client: Socket, key: string, local: number): boolean {
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.state === 'ready' && slot.given.has(key) && (best === undefined || slot.load < best.load)) best = slot;
    }
    if (best === undefined || best.proc === undefined || !overloaded(local, best.load)) return false;
    best.load++;
    best.handOffs++;
    sendSocket(best.proc, { t: 'conn', key }, client, best.inFlight);
    return true;
  }

  /** This process's load changed: tell the workers (batched, at most every `countFlushMs`). */
  loadChanged(load: () => number): void {
    if (this.loadTimer !== undefined || this.stopping) return;
    this.loadTimer = setTimeout(() => {
      this.loadTimer = undefined;
      const clients = load();
      for (const slot of this.slots) if (slot.state === 'ready' && slot.proc !== undefined) send(slot.proc, { t: 'load', clients });
    }, this.options.countFlushMs);
  }

  /** Asks every worker to stop (cutting its connections) and waits for each to exit; SIGKILL after 2 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.loadTimer !== undefined) clearTimeout(this.loadTimer);
    this.loadTimer = undefined;
    const exits: Promise<void>[] = [];
    for (const slot of this.slots) {
      if (slot.respawn !== undefined) clearTimeout(slot.respawn);
      const proc = slot.proc;
      if (proc === undefined) continue;
      send(proc, { t: 'stop' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      exits.push(slot.exited.finally(() => clearTimeout(timer)));
    }
    await Promise.all(exits);
    this.slots.length = 0;
  }

  status(): WorkerStatus[] {
    return this.slots.map((s) => ({
      pid: s.proc?.pid,
      state: s.state,
      activeConnections: [...s.counts.values()].reduce((a, b) => a + b, 0),
      listeners: s.given.size,
      clients: s.load,
      handOffs: s.handOffs,
    }));
  }

  private spawn(slot: Slot): void {
    slot.respawn = undefined;
    slot.state = 'starting';
    slot.given = new Map();
    slot.counts = new Map();
    slot.load = 0;
    slot.handOffs = 0;
    slot.inFlight = new Set();
    slot.acks = new Map();
    slot.startedAt = Date.now();
    const proc = fork(this.options.entry, [], {
      execArgv: workerExecArgv(process.execArgv),
      env: { ...process.env, [WORKER_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    slot.proc = proc;
    let settle!: () => void;
    slot.settled = new Promise((resolve) => (settle = resolve));
    // A worker that never says it is ready (a broken entry, a wedged start) is replaced, not waited for.
    const readyTimer = setTimeout(() => {
      this.options.logger.warn({ pid: proc.pid }, 'a proxy worker did not start in time; replacing it');
      proc.kill('SIGKILL');
    }, this.options.ackTimeoutMs);
    void slot.settled.then(() => clearTimeout(readyTimer));
    slot.exited = new Promise((resolve) => {
      const gone = (reason: string): void => {
        settle();
        resolve();
        this.gone(slot, proc, reason);
      };
      proc.once('exit', (code, signal) => gone(signal !== null ? `killed by ${signal}` : `exited with ${code}`));
      proc.on('error', (error) => {
        // A failed spawn emits no 'exit'; a failed kill or send does not end the process.
        if (proc.pid === undefined) gone(`could not start: ${error.message}`);
      });
    });
    proc.on('message', (message: ToParent, handle: unknown) => {
      if (slot.proc !== proc) {
        if (handle !== undefined) (handle as Socket).destroy();
        return;
      }
      switch (message.t) {
        case 'ready':
          slot.state = 'ready';
          send(proc, { t: 'init', nodeAddresses: this.options.nodeAddresses, maxConnectAttempts: this.options.maxConnectAttempts, countFlushMs: this.options.countFlushMs });
          if (this.current !== undefined) void this.sendSync(slot, this.current);
          settle();
          return;
        case 'ack':
          for (const [seq, resolve] of slot.acks) {
            if (seq > message.seq) continue;
            slot.acks.delete(seq);
            resolve();
          }
          return;
        case 'counts':
          slot.load = message.clients;
          for (const [key, n] of message.counts) this.setCount(slot, key, n);
          return;
        case 'conn':
          if (handle === undefined) return;
          slot.handOffs++;
          this.options.onConnection(handle as Socket, message.key);
          return;
        case 'error':
          this.options.onError({ listener: message.listener, code: message.code, message: message.message });
          return;
      }
    });
  }

  private sendSync(slot: Slot, current: Current): Promise<void> {
    const proc = slot.proc;
    if (proc === undefined) return Promise.resolve();
    const handOver = [...current.listeners].filter(([key, server]) => slot.given.get(key) !== server);
    slot.given = new Map(current.listeners);
    const acked = new Promise<void>((resolve) => slot.acks.set(current.seq, resolve));
    send(proc, { t: 'sync', seq: current.seq, snapshot: current.snapshot, serve: [...current.listeners.keys()], handles: handOver.length });
    for (const [key, server] of handOver) {
      proc.send({ t: 'listen', seq: current.seq, key } satisfies ToWorker, server, (error) => {
        if (error === null || slot.proc !== proc) return;
        // The worker would wait for this handle forever: replace it (the new one gets every listener).
        this.options.logger.warn({ pid: proc.pid, listener: key, err: error }, 'could not hand a listener to a proxy worker; replacing it');
        proc.kill('SIGKILL');
      });
    }
    const timer = setTimeout(() => {
      this.options.logger.warn({ pid: proc.pid, seq: current.seq }, 'a proxy worker did not acknowledge a snapshot in time; replacing it');
      proc.kill('SIGKILL');
    }, this.options.ackTimeoutMs);
    return acked.finally(() => clearTimeout(timer));
  }

  private setCount(slot: Slot, key: string, n: number): void {
    const before = slot.counts.get(key) ?? 0;
    if (n > 0) slot.counts.set(key, n);
    else slot.counts.delete(key);
    if (before !== n) this.options.onCount(key, before, n);
  }

  /** A worker exited: its sockets are closed by the kernel, so its syncs count as applied and its counts drop to 0. */
  private gone(slot: Slot, proc: ChildProcess, reason: string): void {
    if (slot.proc !== proc) return;
    slot.proc = undefined;
    slot.state = 'exited';
    slot.given = new Map();
    for (const resolve of slot.acks.values()) resolve();
    slot.acks.clear();
    for (const socket of slot.inFlight) socket.destroy();
    slot.inFlight.clear();
    for (const key of [...slot.counts.keys()]) this.setCount(slot, key, 0);
    if (this.stopping) return;
    slot.failures = Date.now() - slot.startedAt > 10_000 ? 0 : slot.failures + 1;
    const delay = Math.min(MAX_RESPAWN_DELAY_MS, 50 * 2 ** slot.failures);
    this.options.onError({ listener: `worker ${proc.pid ?? '?'}`, code: 'WORKER_EXIT', message: `proxy worker ${proc.pid ?? '?'} ${reason}; starting another in ${delay} ms` });
    slot.respawn = setTimeout(() => this.spawn(slot), delay);
  }
}

function send(proc: ChildProcess, message: ToWorker): void {
  // A closed channel means the worker is exiting; its 'exit' handler cleans up.
  if (proc.connected) proc.send(message, (error: Error | null) => void error);
}
