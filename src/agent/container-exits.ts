import type { ExitResult } from '../drivers/index.js';
import type { RunningContainer } from './container-start.js';
import type { RunnerContext } from './runner-context.js';

/** The first container of an instance to end on its own, and how it ended. */
export interface ContainerExit {
  readonly container: string;
  readonly result: ExitResult;
}

/**
 * Waits, in the background, for the first container of one instance to exit (`driver.wait` on each
 * container), and keeps that exit for the runner's next step to record. Only the first exit counts: an
 * instance ends with its first container, and stopping its siblings makes the later exits. Nothing is
 * kept or said once `stop()` was called (the runner detached or is destroyed).
 */
export class ExitWatch {
  #exit: ContainerExit | undefined;
  #waiting = false;
  readonly #abort = new AbortController();

  /**
   * @param onExit called once, when the first exit is known (not for one handed to `learned`)
   */
  constructor(
    private readonly instanceId: string,
    private readonly ctx: Pick<RunnerContext, 'driver' | 'logger'>,
    private readonly onExit: () => void,
  ) {}

  /** The first exit, once known. */
  get exit(): ContainerExit | undefined {
    return this.#exit;
  }

  /** An exit known otherwise (recovery: it happened while berth was down); ignored after the first. */
  learned(exit: ContainerExit): void {
    this.#exit ??= exit;
  }

  /** Starts waiting on `containers`; does nothing when already waiting or when there are none. */
  watch(containers: readonly RunningContainer[]): void {
    if (this.#waiting || containers.length === 0) return;
    this.#waiting = true;
    const signal = this.#abort.signal;
    for (const c of containers) {
      this.ctx.driver.wait(c.handle, signal).then(
        (result) => {
          if (this.#exit || signal.aborted) return;
          this.#exit = { container: c.name, result };
          this.onExit();
        },
        (error: unknown) => {
          if (!signal.aborted) this.ctx.logger.warn({ instance: this.instanceId, err: error }, 'waiting for a container failed');
        },
      );
    }
  }

  /** Stops waiting for good: the driver's waits are aborted, and an exit after this is not kept. */
  stop(): void {
    this.#abort.abort();
  }
}
