import type { FastifyInstance } from 'fastify';
import { BodyTooLargeError } from './json-body.js';

/*
 * A body announced larger than the limit is read and thrown away before the 413 goes out.
 *
 * fastify answers such a body at once with `Connection: close` and closes the socket while the client
 * is still sending it; the client's next write then meets a reset, and a reset makes the client's
 * kernel drop the 413 it had received but not yet read: undici's fetch saw "fetch failed" instead of
 * BODY_TOO_LARGE about one time in three (CI, 2026-12-04). nginx solves the same race with its
 * "lingering close" (ngx_http_lingering_close: keep reading, for a bounded time, what the client still
 * sends). berth does the same within bounds: bodies announced up to DRAIN_LIMIT_BYTES are read to their
 * end (at most DRAIN_TIMEOUT_MS) and answered on a connection that stays usable; larger ones get
 * fastify's immediate answer and close, as do chunked bodies that outgrow the limit while streaming.
 */

/** The largest announced body berth reads to its end to answer 413 cleanly: bytes. */
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long berth reads an oversized body before answering anyway: milliseconds. */
export const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Installs the onRequest hook that drains bodies whose Content-Length is over `limitBytes` (and at
 * most DRAIN_LIMIT_BYTES), then fails the request with BodyTooLargeError (413 BODY_TOO_LARGE).
 */
export function drainOversizedBodies(app: FastifyInstance, limitBytes: number): void {
  app.addHook('onRequest', async (request) => {
    const announced = Number(request.headers['content-length']);
    if (!(announced > limitBytes) || announced > DRAIN_LIMIT_BYTES) return;
    await discardBody(request.raw, DRAIN_TIMEOUT_MS);
    throw new BodyTooLargeError();
  });
}

function discardBody(body: NodeJS.ReadableStream & { readableEnded?: boolean }, timeoutMs: number): Promise<void> {
  if (body.readableEnded === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      body.removeListener('end', done);
      body.removeListener('error', done);
      body.removeListener('close', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    body.on('end', done);
    body.on('error', done);
    body.on('close', done);
    body.resume();
  });
}
