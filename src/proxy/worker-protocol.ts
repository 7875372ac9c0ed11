/*
 * The IPC messages between a ServiceProxy and its proxy worker processes (node's JSON channel of
 * child_process.fork; a listening net.Server travels as the handle of a 'listen' message).
 *
 * One sync, parent → worker: 'sync' (the whole snapshot, the listener keys the worker serves from now
 * on, how many handles follow), then one 'listen' + handle per listener the worker does not hold yet.
 * The worker applies the snapshot, closes the listeners not in `serve`, takes the handles, sends its
 * connection counts, then 'ack' with the sync's `seq`. Messages on one channel arrive in order.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { EndpointsSnapshot } from '../model/index.js';

export interface InitMessage {
  readonly t: 'init';
  /** Addresses node ports are opened on (the worker builds its tables as the parent does). */
  readonly nodeAddresses: readonly string[];
  readonly maxConnectAttempts: number;
  /** How long a changed connection count may wait before it is sent, ms (counts are batched). */
  readonly countFlushMs: number;
}

export interface SyncMessage {
  readonly t: 'sync';
  readonly seq: number;
  readonly snapshot: EndpointsSnapshot;
  /** Listener keys (`TCP host:port`) the worker accepts on after this sync; it closes any other it holds. */
  readonly serve: readonly string[];
  /** How many 'listen' messages (with their handles) follow before the worker may acknowledge. */
  readonly handles: number;
}

export interface ListenMessage {
  readonly t: 'listen';
  readonly seq: number;
  readonly key: string;
}

export interface StopMessage {
  readonly t: 'stop';
}

/**
 * Both ways: a client connection accepted on the shared listener `key`, handed to the less loaded
 * process (the socket is the message's handle; accepted paused, nothing was read from it).
 */
export interface ConnMessage {
  readonly t: 'conn';
  readonly key: string;
}

/** The parent's load (client connections it relays), for the worker's hand-off decisions; batched. */
export interface LoadMessage {
  readonly t: 'load';
  readonly clients: number;
}

export type ToWorker = InitMessage | SyncMessage | ListenMessage | StopMessage | ConnMessage | LoadMessage;

export interface ReadyMessage {
  readonly t: 'ready';
}

export interface AckMessage {
  readonly t: 'ack';
  readonly seq: number;
}

/** Active connection counts that changed since the last such message: [backendKey, count] (absolute, 0 = none). */
export interface CountsMessage {
  readonly t: 'counts';
  readonly counts: readonly (readonly [string, number])[];
  /** Client connections the worker relays now (its load). */
  readonly clients: number;
}

/** A listener problem in the worker (a handle that did not arrive, an accept error). */
export interface ErrorMessage {
  readonly t: 'error';
  readonly listener: string;
  readonly code: string;
  readonly message: string;
}

export type ToParent = ReadyMessage | AckMessage | CountsMessage | ErrorMessage | ConnMessage;

/**
 * Hands a client socket to another process. `keepOpen`: node then keeps no copy of its own (without it,
 * a handle whose receiver died before acknowledging is never closed); ours is closed once sent — the
 * receiver holds the connection — or when the receiver turns out dead (`inFlight`).
 */
export function sendSocket(target: { send: ChildProcess['send'] }, message: ToWorker | ToParent, socket: Socket, inFlight?: Set<Socket>): void {
  inFlight?.add(socket);
  target.send(message, socket, { keepOpen: true }, () => {
    inFlight?.delete(socket);
    socket.destroy();
  });
}
