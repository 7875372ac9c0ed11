/*
 * The worker side of the multi-process proxy: a process forked by `ServiceProxy` (entry
 * proxy-worker.ts) that accepts on listening sockets handed over by its parent and relays with the same
 * code and tables. It owns no listener of its own, keeps no state the parent needs back except
 * connection counts, and exits as soon as the IPC channel to its parent closes (the parent stopped,
 * crashed, or was killed with SIGKILL), so it never outlives its parent.
 */
import type { Server, Socket } from 'node:net';
import { systemClock } from '../lib/index.js';
import { buildProxyTable } from './proxy-table.js';
import type { ProxyTable } from './proxy-table.js';
import { RelayEngine, overloaded } from './relay-engine.js';
import type { ServedListener } from './relay-engine.js';
import type { InitMessage, ListenMessage, SyncMessage, ToParent, ToWorker } from './worker-protocol.js';
import { sendSocket } from './worker-protocol.js';

/** How the worker talks to its parent: a message, optionally with a socket handle. */
export type SendToParent = (message: ToParent, handle?: Socket) => void;

interface HeldListener extends ServedListener {
  readonly server: Server;
}

interface PendingSync {
  readonly seq: number;
  remaining: number;
}

export interface ProxyWorkerHooks {
  /** Called with each listener the worker starts serving (tests inject listener faults here). */
  readonly onListener?: (key: string, server: Server) => void;
}

/** The worker's state machine, driven by `handle(message, handle)`; talks back through `send`. */
export class ProxyWorker {
  private engine: RelayEngine | undefined;
  private init: InitMessage | undefined;
  private table: ProxyTable | undefined;
  private readonly listeners = new Map<string, HeldListener>();
  private pending: PendingSync | undefined;
  private readonly dirty = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** The parent's load as last reported, plus the connections handed to it since. */
  private parentLoad = 0;

  constructor(
    private readonly send: SendToParent,
    private readonly hooks: ProxyWorkerHooks = {},
  ) {}

  handle(message: ToWorker, handle: unknown): void {
    if (message.t !== 'init' && message.t !== 'stop' && this.engine === undefined) return; // never before init
    switch (message.t) {
      case 'init':
        this.start(message);
        return;
      case 'sync':
        this.sync(message);
        return;
      case 'listen':
        this.listen(message, handle as Server | undefined);
        return;
      case 'stop':
        this.stop();
        return;
      case 'load':
        this.parentLoad = message.clients;
        return;
      case 'conn': {
        const socket = handle as Socket | undefined;
        const spec = this.listeners.get(message.key)?.spec ?? this.table?.listeners.get(message.key);
        if (socket === undefined) return;
        if (spec === undefined) socket.destroy();
        else (this.engine as RelayEngine).adopt(socket, spec.serviceKey);
        return;
      }
    }
  }

  /** Closes every listener and cuts every connection. */
  stop(): void {
    for (const held of this.listeners.values()) closeQuietly(held.server);
    this.listeners.clear();
    this.engine?.cutAll(new Error('proxy worker stopped'));
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
  }

  private start(init: InitMessage): void {
    this.init = init;
    this.engine = new RelayEngine({
      clock: systemClock,
      maxConnectAttempts: init.maxConnectAttempts,
      onCount: (key, _before, n) => this.counted(key, n),
      handOff: (client, listener) => this.handOff(client, listener),
    });
  }

  private sync(message: SyncMessage): void {
    const engine = this.engine as RelayEngine;
    const table = buildProxyTable(message.snapshot, { nodeAddresses: this.init?.nodeAddresses });
    this.table = table;
    engine.update(table.services);
    const serve = new Set(message.serve);
    for (const [key, held] of this.listeners) {
      const spec = table.listeners.get(key);
      if (!serve.has(key) || spec === undefined) {
        this.listeners.delete(key);
        closeQuietly(held.server);
      } else {
        held.spec = spec;
      }
    }
    this.pending = { seq: message.seq, remaining: message.handles };
    this.settle();
  }

  private listen(message: ListenMessage, server: Server | undefined): void {
    const spec = this.table?.listeners.get(message.key);
    if (server === undefined || spec === undefined) {
      if (server !== undefined) closeQuietly(server);
      const code = server === undefined ? 'ENOHANDLE' : 'ENOLISTENER';
      this.send({ t: 'error', listener: message.key, code, message: `proxy worker ${process.pid} could not take listener ${message.key} (${code})` });
    } else {
      const old = this.listeners.get(message.key);
      if (old !== undefined) closeQuietly(old.server);
      const held: HeldListener = { spec, server, shared: true };
      this.listeners.set(message.key, held);
      (this.engine as RelayEngine).serve(server, held);
      // After the handover a listener error (EMFILE on accept…) is the parent's to report; never a crash.
      server.on('error', (error: NodeJS.ErrnoException) => {
        this.send({ t: 'error', listener: message.key, code: error.code ?? 'ERROR', message: `proxy worker ${process.pid}: ${error.message}` });
      });
      this.hooks.onListener?.(message.key, server);
    }
    if (this.pending !== undefined && this.pending.seq === message.seq) {
      this.pending.remaining--;
      this.settle();
    }
  }

  /** A connection this worker accepted while clearly busier than the parent goes to the parent. */
  private handOff(client: Socket, listener: ServedListener): boolean {
    if (!overloaded((this.engine as RelayEngine).load, this.parentLoad)) return false;
    this.parentLoad++;
    this.send({ t: 'conn', key: listener.spec.key }, client);
    return true;
  }

  /** Acknowledges the pending sync once its handles arrived; counts go first, so the parent's are current. */
  private settle(): void {
    const pending = this.pending;
    if (pending === undefined || pending.remaining > 0) return;
    this.pending = undefined;
    this.flush();
    this.send({ t: 'ack', seq: pending.seq });
  }

  private counted(key: string, n: number): void {
    this.dirty.set(key, n);
    if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), this.init?.countFlushMs ?? 10);
  }

  private flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.dirty.size === 0) return;
    const counts = [...this.dirty];
    this.dirty.clear();
    this.send({ t: 'counts', counts, clients: (this.engine as RelayEngine).load });
  }
}

/** Runs a ProxyWorker on this process's IPC channel; exits when the channel closes. */
export function runProxyWorker(hooks: ProxyWorkerHooks = {}): void {
  if (process.send === undefined) throw new Error('a proxy worker must be started by ServiceProxy (no IPC channel)');
  const channel = process as Required<Pick<NodeJS.Process, 'send'>>;
  const send: SendToParent = (message, handle) => {
    // The parent may be gone already ('disconnect' follows): nothing to tell it then (a handed socket is closed).
    if (!process.connected) handle?.destroy();
    else if (handle !== undefined) sendSocket(channel, message, handle);
    else channel.send(message, undefined, undefined, () => {});
  };
  const worker = new ProxyWorker(send, hooks);
  process.on('message', (message: ToWorker, handle: unknown) => {
    worker.handle(message, handle);
    if (message.t === 'stop') process.exit(0);
  });
  // The parent is gone (stopped, crashed, SIGKILL): a worker never outlives it.
  process.on('disconnect', () => {
    worker.stop();
    process.exit(0);
  });
  // Ctrl-C reaches the whole process group: the parent decides when its workers end.
  process.on('SIGINT', () => {});
  // Only now may the parent talk: a message that arrived before the listener above would be lost.
  send({ t: 'ready' });
}

function closeQuietly(server: Server): void {
  try {
    server.close();
  } catch {
    // already closed
  }
}
