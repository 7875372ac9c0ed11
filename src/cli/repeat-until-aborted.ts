import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `tick`, waits `intervalMs`, and again, until `signal` aborts (Ctrl-C). A tick that throws ends
 * the loop with its error; an abort during the wait ends it quietly.
 */
export async function repeatUntilAborted(intervalMs: number, signal: AbortSignal, tick: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    await tick();
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return;
    }
  }
}
