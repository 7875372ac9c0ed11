import { existsSync, statSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_STATUS } from './error-status.js';

/**
 * The web console (docs/console.md): the files `npm run build` writes to dist/web, served at `/` by
 * the API's own listener, so the console talks to `/v1` on its own origin (no CORS, no second port).
 * - `/assets/*` are content-hashed by the build: cached for a year, `immutable`; their `.br`/`.gz`
 *   twins (written at build) are sent to clients that accept them.
 * - Every other path outside `/v1` is a page of the single-page app: index.html, never cached, so a
 *   deep link (`/grids/default/services/web`) and a reload work.
 * - `/v1/…` paths no route has stay the API's JSON 404 (ROUTE_NOT_FOUND).
 * The files are public (they hold no data; every API call needs a token). Pages carry a Content
 * Security Policy that allows scripts, styles and connections to this origin only.
 * Without a built console (`dir` absent or without index.html), pages answer 404 ROUTE_NOT_FOUND
 * saying how to build it.
 */
export function registerConsoleRoutes(app: FastifyInstance, dir: string | undefined): void {
  const built = dir !== undefined && existsSync(join(dir, 'index.html'));
  if (built) void app.register(fastifyStatic, { root: dir, serve: false, preCompressed: true, index: false, wildcard: false });

  const page = (request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> | void => {
    const path = (request.params as { '*'?: string })['*'] ?? '';
    if (path === 'v1' || path.startsWith('v1/')) {
      reply.callNotFound();
      return;
    }
    if (!built) {
      return reply.status(ERROR_STATUS.ROUTE_NOT_FOUND).send({
        code: 'ROUTE_NOT_FOUND',
        message: 'the web console is not built in this installation: run `npm run build` (or `npm ci`) in berth\'s directory, then restart the server; the API is under /v1',
        details: { method: request.method, url: request.url },
      });
    }
    void reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    const file = assetPath(dir, path);
    if (file !== undefined) return reply.sendFile(file, { maxAge: 31_536_000_000, immutable: true });
    return reply
      .header('cache-control', 'no-cache')
      .header('x-frame-options', 'DENY')
      .header('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
      .sendFile('index.html', { cacheControl: false });
  };
  app.get('/', page);
  app.get('/*', page);
}

/** A built file under the console's directory named by a request path (no traversal), or undefined. */
function assetPath(dir: string, path: string): string | undefined {
  if (path === '' || path.includes('\0')) return undefined;
  const relative = normalize(decodeURIComponentSafe(path)).replace(/^([/\\])+/, '');
  if (relative.startsWith('..') || relative.split(sep).includes('..')) return undefined;
  if (relative === 'index.html') return undefined;
  try {
    return statSync(join(dir, relative)).isFile() ? relative : undefined;
  } catch {
    return undefined;
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
