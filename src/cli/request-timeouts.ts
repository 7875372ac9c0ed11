import { parseDuration } from '../lib/index.js';
import { UsageError } from './cli-error.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './http-fetch.js';

/*
 * How long the CLI waits for a server before it gives up on it and, with `--host A,B`, tries the next
 * (client/http-transport.ts has the rules of which requests may go on). kubectl bounds the connect and
 * lets `--request-timeout` bound the rest; docker bounds the dial. A hung server (it accepts the
 * connection and never answers: a stopped process) otherwise holds the CLI for undici's 300 s.
 */

/** `--request-timeout` / BERTH_REQUEST_TIMEOUT: per server, until the answer's status line and headers. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * A followed stream (`logs -f`, `events -f`) silent this long — no value and none of the empty heartbeat
 * lines a berth server sends every 15 s — is broken (a hung server), and is resumed on the next server.
 * Four heartbeats: a quiet stream is never cut.
 */
export const STREAM_IDLE_TIMEOUT_MS = 60_000;

export interface RequestTimeouts {
  /** ms; 0: no limit of berth's (the system's TCP connect timeout holds). */
  readonly connectMs: number;
  /** ms; 0: no limit. */
  readonly requestMs: number;
}

/**
 * The timeouts from the flags (`--connect-timeout`, `--request-timeout`), else the environment
 * (BERTH_CONNECT_TIMEOUT, BERTH_REQUEST_TIMEOUT), else the defaults (5 s, 30 s). A value is seconds or
 * a duration (`500ms`, `10s`, `1m`); `0` turns the limit off.
 * @throws UsageError naming the environment variable for a value that is not a duration (the flags are
 *   checked by commander when parsed).
 */
export function resolveRequestTimeouts(flags: { readonly connectTimeout?: string; readonly requestTimeout?: string }, env: NodeJS.ProcessEnv): RequestTimeouts {
  return {
    connectMs: timeoutMs(flags.connectTimeout, env, 'BERTH_CONNECT_TIMEOUT', DEFAULT_CONNECT_TIMEOUT_MS),
    requestMs: timeoutMs(flags.requestTimeout, env, 'BERTH_REQUEST_TIMEOUT', DEFAULT_REQUEST_TIMEOUT_MS),
  };
}

function timeoutMs(flag: string | undefined, env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const fromEnv = env[name]?.trim();
  const value = flag ?? (fromEnv ? fromEnv : undefined);
  if (value === undefined) return fallback;
  try {
    return parseDuration(value);
  } catch {
    throw new UsageError(`invalid ${name} "${value}": expected seconds or a duration such as 500ms, 10s or 1m (0: no limit)`);
  }
}
