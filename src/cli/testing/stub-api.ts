import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiError } from './stub-writes.js';
import { STREAMING, routeRequest } from './stub-routes.js';
import { StubState } from './stub-state.js';

/*
 * A small in-memory berth API on a loopback port for CLI flow tests: the routes of docs/api.md with
 * just enough behaviour — versions and 409s, generations, create vs deploy, a deploy that converges a
 * few milliseconds later (through the watch stream), removal that turns into 404. It does not validate
 * specs beyond "a container needs a command or an image"; the real server's validation has its own tests.
 *
 * Its parts: the state and knobs tests seed and read (stub-state.ts, inherited), the routes
 * (stub-routes.ts), the writes that take effect over time (stub-writes.ts), rollouts (stub-rollout.ts),
 * dry runs (stub-dry-run.ts) and spec defaults (stub-spec.ts). This file is the HTTP server.
 */

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

/** The stub berth API served over HTTP on 127.0.0.1 (an ephemeral port), recording every request. */
export class StubApi extends StubState {
  readonly requests: RecordedRequest[] = [];
  readonly #open = new Set<ServerResponse>();
  readonly #server: Server = createServer((req, res) => {
    this.#handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) this.#json(res, 500, { code: 'INTERNAL', message: String(e) });
    });
  });
  url = '';

  /** Back to an empty server with every default (call it before each test; the server keeps listening). */
  override reset(): void {
    super.reset();
    this.requests.length = 0;
  }

  async start(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.clearTimers();
    for (const res of this.#open) res.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }

  /** Requests that change something: neither reads nor dry runs. */
  get writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !r.query.has('dryRun'));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body });
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      const answer = routeRequest(this, { method: req.method ?? 'GET', parts, query: url.searchParams, body: body ?? {}, res, openStream: () => this.#openStream(res) });
      if (answer !== STREAMING) this.#json(res, answer.status, answer.body);
    } catch (e) {
      const error = e as ApiError;
      this.#json(res, error.status ?? 500, { code: error.code ?? 'INTERNAL', message: error.message, details: error.details ?? {} });
    }
  }

  #openStream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    this.#open.add(res);
    res.once('close', () => this.#open.delete(res));
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}
