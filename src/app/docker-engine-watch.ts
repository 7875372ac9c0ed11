import type { Logger } from '../lib/index.js';

/**
 * How often a server whose Docker engine did not answer asks again, ms: an engine started after berth
 * (docker.io installed after trying berth, or dockerd coming up later at boot) is found within this
 * long, with no restart of berth. A probe is one ping (DOCKER_REPROBE_PING_MS at most): against a
 * socket nobody listens on it fails at once, so asking every 5 s costs nothing worth measuring.
 */
export const DOCKER_REPROBE_MS = 5000;

/** How long one re-probe's ping may take, ms (shorter than the first one's 3 s: it is asked again soon). */
export const DOCKER_REPROBE_PING_MS = 1000;

/** What a probe finds: the engine (with what must be released if it is not taken in), or why not. */
export type EngineProbeResult<T> = { readonly found: T } | { readonly unavailable: string };

export interface DockerEngineWatchOptions<T> {
  /** One probe (setupDocker: a ping, then the berth network). Aborted by stop(). Should not throw; a throw counts as "not found". */
  readonly probe: (signal: AbortSignal) => Promise<EngineProbeResult<T>>;
  /**
   * Takes a found engine in (registers the driver, updates the node record). All or nothing: when it
   * rejects it must leave nothing registered; the watch then releases the engine and probes again.
   */
  readonly adopt: (found: T, signal: AbortSignal) => Promise<void>;
  /** Releases an engine that was not taken in (adopt rejected, or the watch stopped meanwhile). */
  readonly release: (found: T) => void | Promise<void>;
  /** Between the end of one probe and the start of the next, ms (default DOCKER_REPROBE_MS). */
  readonly intervalMs?: number;
  readonly logger: Logger;
}

/**
 * Asks for a Docker engine again while a server runs without one (docs/drivers.md, "Docker driver"):
 * one probe at a time (the next is scheduled only when one has ended, so a slow engine never stacks
 * probes), until one finds it and `adopt` takes it in; then it stops for good (an engine that goes
 * away later is the driver's concern, as it was for one found at start). stop() aborts a probe in
 * flight and waits for it, so nothing is registered after stop() resolved.
 */
export class DockerEngineWatch<T> {
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private done = false;
  private failures = 0;

  constructor(private readonly options: DockerEngineWatchOptions<T>) {}

  /** Schedules the first probe (one interval from now: start has just asked). */
  start(): void {
    this.schedule();
  }

  /** True once an engine was taken in (or the watch was stopped): no more probes. */
  get finished(): boolean {
    return this.done;
  }

  /** Stops probing; resolves once a probe in flight has ended (its engine released unless taken in before). Idempotent. */
  async stop(): Promise<void> {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort(new Error('berth is stopping'));
    await this.running;
  }

  private schedule(): void {
    if (this.done) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.probeOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.options.intervalMs ?? DOCKER_REPROBE_MS);
    this.timer.unref();
  }

  private async probeOnce(): Promise<void> {
    const { probe, adopt, logger } = this.options;
    const signal = this.abort.signal;
    let result: EngineProbeResult<T>;
    try {
      result = await probe(signal);
    } catch (error) {
      result = { unavailable: (error as Error).message };
    }
    if (!('found' in result)) {
      // Said once, at debug level: the start already said why, at info.
      if (this.failures++ === 0) logger.debug({ reason: result.unavailable }, 'still no Docker engine; asking again');
      return;
    }
    if (this.done) {
      await this.release(result.found);
      return;
    }
    try {
      await adopt(result.found, signal);
      this.done = true;
    } catch (error) {
      if (!this.done) logger.warn({ err: error }, 'a Docker engine answered but could not be taken in; asking again');
      await this.release(result.found);
    }
  }

  private async release(found: T): Promise<void> {
    try {
      await this.options.release(found);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'releasing a Docker engine that was not taken in failed');
    }
  }
}
