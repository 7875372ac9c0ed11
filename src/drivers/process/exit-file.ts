import { readFile } from 'node:fs/promises';
import type { ExitResult } from '../driver.js';

/** What a container ended with when its shim died without writing the exit file (SIGKILL, OOM, reboot). */
export const LOST_EXIT: ExitResult = Object.freeze({
  exitCode: 255,
  message: 'exit status lost: the supervisor ended without recording it',
});

/**
 * Reads the exit file the shim writes when the container's main process ends:
 * `{"exitCode":N,"signal":"SIGKILL"|null,"finishedAt":"RFC3339Nano"}`. The shim renames it into place,
 * so it is either absent (undefined) or complete. A file that does not parse (a disk error) becomes
 * exit code 255 with a message, never an exception: the container has ended either way.
 */
export async function readExitFile(path: string): Promise<ExitResult | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { exitCode: 255, message: `exit file unreadable: ${(e as Error).message}` };
  }
  return parseExitFile(text);
}

export function parseExitFile(text: string): ExitResult {
  try {
    const raw = JSON.parse(text) as { exitCode?: unknown; signal?: unknown; finishedAt?: unknown };
    if (typeof raw.exitCode !== 'number') throw new Error('no exitCode');
    return {
      exitCode: raw.exitCode,
      ...(typeof raw.signal === 'string' ? { signal: raw.signal } : {}),
      ...(typeof raw.finishedAt === 'string' ? { finishedAt: raw.finishedAt } : {}),
    };
  } catch (e) {
    return { exitCode: 255, message: `exit file unreadable: ${(e as Error).message}` };
  }
}
