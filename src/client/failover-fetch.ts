import { connectionFailure } from './connection-failure.js';
import type { FetchFunction } from './http-transport.js';

/**
 * A fetch over several servers of one cluster (`berth agent --join URL1,URL2`): requests go to the
 * current server; when it cannot be reached (the connection is refused, reset, or times out — a
 * server that died), the next one is tried, and stays current. A request the server answered, even
 * with an error status, is never repeated elsewhere. Clients are built with `servers[0]` as their base
 * URL; the origin is swapped here.
 *
 * Only requests that did not reach a server are retried, so a write is not sent twice — except one
 * whose connection broke mid-way, which the agent's writes tolerate (heartbeats and status reports are
 * idempotent; a join answered NODE_EXISTS is retried by the agent with its saved credential).
 * @param onSwitch  told when another server becomes current (for a log line)
 */
export function failoverFetch(servers: readonly string[], base: FetchFunction, onSwitch?: (from: string, to: string, error: unknown) => void): FetchFunction & { current(): string } {
  if (servers.length === 0) throw new Error('failoverFetch: no server');
  const origins = servers.map((s) => new URL(s).origin);
  const first = origins[0] as string;
  let current = 0;
  const fn = async (input: string, init: RequestInit): Promise<Response> => {
    let lastError: unknown;
    for (let attempt = 0; attempt < origins.length; attempt++) {
      const at = current;
      const origin = origins[at] as string;
      const url = input.startsWith(first) ? origin + input.slice(first.length) : input;
      try {
        return await base(url, init);
      } catch (error) {
        lastError = error;
        if (init.signal?.aborted || !unreachable(error) || origins.length === 1) throw error;
        if (current === at) {
          current = (at + 1) % origins.length;
          onSwitch?.(origin, origins[current] as string, error);
        }
      }
    }
    throw lastError;
  };
  return Object.assign(fn, { current: () => origins[current] as string });
}

/** A network failure, not an HTTP answer (connection-failure.ts): refused, reset, timed out, no route. */
function unreachable(error: unknown): boolean {
  return connectionFailure(error) !== undefined;
}
