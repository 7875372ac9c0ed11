import type Dockerode from 'dockerode';
import type { Logger } from '../../lib/index.js';
import { silentLogger } from '../../lib/index.js';
import type { ExitResult } from '../driver.js';
import { exitOfState, isNotFound } from './engine-errors.js';

/*
 * Container exits from the engine's events stream (`GET /events`, type container, action die, this
 * berth's owner label): one long request for every container, never a poll per container — the idle
 * cost of fifty running containers is one open socket. The stream reconnects after it breaks (the
 * engine restarted, the socket timed out) and then re-inspects every container still waited on, so
 * an exit that happened while it was down is not lost.
 */

type Waiter = { resolve: (exit: ExitResult) => void };

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}

export class ContainerExits {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private stream: NodeJS.ReadableStream | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private retryMs = 100;
  private readonly logger: Logger;

  constructor(
    private readonly docker: Dockerode,
    /** The label filter of this berth's containers, e.g. `io.berth.owner=3f2a9c1b`. */
    private readonly ownerLabel: string,
    logger?: Logger,
  ) {
    this.logger = logger ?? silentLogger;
  }

  /**
   * Resolves with the container's exit: at once when it is not running (or is gone: exit code 255
   * with a message), else when the engine reports its death. An abort rejects with its reason and
   * leaves the container alone.
   */
  wait(id: string, signal?: AbortSignal): Promise<ExitResult> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    let resolve!: (exit: ExitResult) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<ExitResult>((res, rej) => ((resolve = res), (reject = rej)));
    const waiter: Waiter = { resolve };
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(waiter);
    const onAbort = (): void => {
      this.forget(id, waiter);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // Subscribed before the inspect: an exit between the two is seen by one or the other.
    this.connect()
      .then(() => this.inspectExit(id))
      .then(
        (exit) => exit && this.settle(id, exit),
        (error: unknown) => {
          this.forget(id, waiter);
          reject(error);
        },
      );
    return promise.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  /** Ends the events stream; pending waits stay pending (the agent detaches them). */
  close(): void {
    this.closed = true;
    (this.stream as { destroy?: () => void } | undefined)?.destroy?.();
    this.stream = undefined;
  }

  private forget(id: string, waiter: Waiter): void {
    const set = this.waiters.get(id);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(id);
  }

  private settle(id: string, exit: ExitResult): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const w of set) w.resolve(exit);
  }

  /** The container's exit when it is not running; undefined while it runs. */
  private async inspectExit(id: string): Promise<ExitResult | undefined> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      return info.State.Running || info.State.Restarting ? undefined : exitOfState(info.State);
    } catch (error) {
      if (isNotFound(error)) return { exitCode: 255, message: 'the container is gone (removed outside berth)' };
      throw error;
    }
  }

  private connect(): Promise<void> {
    if (this.stream) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const stream = (await this.docker.getEvents({
      filters: JSON.stringify({ type: ['container'], event: ['die', 'destroy'], label: [this.ownerLabel] }),
    })) as NodeJS.ReadableStream;
    if (this.closed) {
      (stream as { destroy?: () => void }).destroy?.();
      return;
    }
    this.stream = stream;
    this.retryMs = 100;
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) this.onEvent(line);
      }
    });
    const lost = (): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (!this.closed) this.reconnect();
    };
    stream.on('end', lost);
    stream.on('close', lost);
    stream.on('error', (error: unknown) => {
      this.logger.warn({ err: error }, 'the engine events stream broke; reconnecting');
      lost();
    });
  }

  private onEvent(line: string): void {
    let event: { Action?: string; id?: string; Actor?: { ID?: string } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const id = event.Actor?.ID ?? event.id;
    if (!id || !this.waiters.has(id)) return;
    // The exit code and time come from the container's state, which the engine wrote before the event.
    void this.inspectExit(id).then(
      (exit) => exit && this.settle(id, exit),
      (error: unknown) => this.logger.warn({ container: id, err: error }, 'inspecting an exited container failed'),
    );
  }

  /** After the stream broke: reopen (with back-off) and re-inspect everything still waited on. */
  private reconnect(): void {
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 5000);
    setTimeout(() => {
      if (this.closed || this.waiters.size === 0) return;
      this.connect().then(
        () => {
          for (const id of [...this.waiters.keys()]) void this.inspectExit(id).then((exit) => exit && this.settle(id, exit), () => undefined);
        },
        (error: unknown) => {
          this.logger.warn({ err: error }, 'reconnecting to the engine events stream failed');
          this.reconnect();
        },
      );
    }, delay).unref();
  }
}
