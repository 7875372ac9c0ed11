/*
 * What a fetch that threw (no HTTP answer at all) says about the request, so a client of several
 * servers knows whether another one may be asked: the CLI's `--host A,B` (http-transport.ts) and the
 * agent's `--join A,B` (failover-fetch.ts).
 */

/**
 * The connection was never made, so the request certainly did not reach the server: refused (nothing
 * listens: a dead server), no route, no such host, or no connect within undici's connect timeout or the
 * CLI's (`CONNECT_TIMEOUT`, cli/http-fetch.ts: TCP connect and TLS handshake).
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'CONNECT_TIMEOUT']);
/**
 * The connection broke or timed out after it was made, before an answer: the server may have received
 * the request, and acted on it.
 */
const INTERRUPTED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CLOSED']);

/**
 * `not-sent`: the request never reached a server (any method may go to another);
 * `interrupted`: it may have (only a safe method — GET, HEAD — may go to another);
 * undefined: not a connection failure (a TLS certificate that does not match, an abort, a bug).
 * Reads the code of node:https socket errors, or of undici's `TypeError('fetch failed')` cause chain;
 * a "fetch failed" without a code counts as interrupted.
 */
export function connectionFailure(error: unknown): 'not-sent' | 'interrupted' | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return 'not-sent';
    if (typeof code === 'string' && INTERRUPTED_CODES.has(code)) return 'interrupted';
    // undici wraps several connect attempts (IPv4 and IPv6 of one name) in an AggregateError.
    const inner = (current as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.length > 0 && inner.every((e) => connectionFailure(e) === 'not-sent')) return 'not-sent';
    current = (current as { cause?: unknown }).cause;
  }
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return 'interrupted';
  return undefined;
}

/** The most specific reason node's fetch gives (`connect ECONNREFUSED 127.0.0.1:7420`). */
export function describeCause(e: unknown): string {
  let current: unknown = e;
  let message = e instanceof Error ? e.message : String(e);
  while (current instanceof Error && current.cause !== undefined) {
    current = current.cause;
    if (current instanceof Error && current.message) message = current.message;
    else if (typeof current === 'object' && current !== null && 'code' in current) message = String((current as { code: unknown }).code);
  }
  return message;
}
