import { constants } from 'node:os';
import type { ExitResult } from '../driver.js';

/*
 * What the engine's answers mean to the driver: dockerode rejects with an Error carrying the HTTP
 * `statusCode` and the engine's JSON body (`json.message`).
 */

interface EngineError {
  readonly statusCode?: number;
  readonly json?: { readonly message?: string } | null;
  readonly reason?: string;
  readonly message?: string;
  readonly code?: string;
}

/** 404: no such container, image, network or volume. */
export function isNotFound(error: unknown): boolean {
  return (error as EngineError | undefined)?.statusCode === 404;
}

/** 304 (already stopped) or 409 (not running / conflict): the container was not running. */
export function isNotRunning(error: unknown): boolean {
  const status = (error as EngineError | undefined)?.statusCode;
  return status === 304 || (status === 409 && /not running|is not running/i.test(engineMessage(error)));
}

/** The engine's own words for an error (its JSON message), else the transport's. */
export function engineMessage(error: unknown): string {
  const e = error as EngineError | undefined;
  const text = e?.json?.message ?? e?.message ?? String(error);
  // dockerode prefixes "(HTTP code 500) server error - "; the engine's message is what a user needs.
  return text.replace(/^\(HTTP code \d+\)[^-]*- /, '').trim();
}

/** The container state's exit as the driver contract says it: 128 + n for a signal n. */
export function exitOfState(state: { readonly ExitCode?: number; readonly FinishedAt?: string; readonly OOMKilled?: boolean; readonly Error?: string }): ExitResult {
  const exitCode = state.ExitCode ?? 255;
  const signal = exitCode > 128 ? signalName(exitCode - 128) : undefined;
  const finishedAt = state.FinishedAt && !state.FinishedAt.startsWith('0001-') ? state.FinishedAt : undefined;
  const message = state.OOMKilled ? 'killed for using more memory than its limit (OOMKilled)' : state.Error ? state.Error : undefined;
  return { exitCode, ...(signal ? { signal } : {}), ...(finishedAt ? { finishedAt } : {}), ...(message ? { message } : {}) };
}

function signalName(n: number): string | undefined {
  for (const [name, value] of Object.entries(constants.signals)) if (value === n) return name;
  return undefined;
}
