import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { FetchFunction } from '../client/index.js';

/**
 * The CLI's connect timeout (`--connect-timeout`, BERTH_CONNECT_TIMEOUT): a server that does not
 * accept the connection within it (a machine that is off, a dropped SYN) is left for the next of
 * `--host A,B`. As docker's dial timeout and kubectl's client, a few seconds; undici's own is 10 s.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** Sockets whose TLS handshake is done (a kept-alive one being reused; the pinned agent's). */
const secured = new WeakSet<Socket>();

/** Marks a TLS socket that is handed over after its handshake (PinnedAgent, tls-fetch.ts). */
export function markSecured(socket: Socket): void {
  secured.add(socket);
}

/**
 * One request over node:http or node:https with `agent`, as a fetch Response whose body streams (NDJSON
 * routes work as with fetch). No connection within `connectTimeoutMs` — TCP connect, and for https the
 * TLS handshake: nothing of the request was sent yet — rejects with code `CONNECT_TIMEOUT`
 * (client/connection-failure.ts counts it as never sent, so any request may go to another server).
 * No other timeout: the typed client times the answer (TransportTimeouts).
 */
export function requestOver(agent: http.Agent, input: string, init: RequestInit, connectTimeoutMs: number | undefined): Promise<Response> {
  const url = new URL(input);
  return new Promise<Response>((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    if (typeof init.body === 'string') headers['content-length'] = String(Buffer.byteLength(init.body));
    const module = url.protocol === 'https:' ? https : http;
    const request = module.request(url, { method: init.method ?? 'GET', headers, agent, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, v);
      }
      const status = res.statusCode ?? 502;
      const body = status === 204 || status === 304 || init.method === 'HEAD' ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      // No body to read: drained here, so the connection goes back to the pool. Unread, it stayed
      // taken (a new TLS connection for the next request), and kept the process alive after it was
      // told to stop, until the server closed it (an agent's data-plane reports are 204s).
      if (body === null) res.resume();
      resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
    });
    // A request destroyed before it has a socket emits its error only once the agent hands one over,
    // and the pinned agent hands one over only after the TLS handshake: a peer that accepts and never
    // answers it (a SIGSTOPped agent) held the caller forever, past its signal and connect timeout.
    // So both end the promise themselves, not only the request.
    const fail = (error: Error): void => {
      request.destroy(error);
      reject(error);
    };
    const signal = init.signal;
    if (signal) {
      const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        request.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    if (connectTimeoutMs !== undefined && connectTimeoutMs > 0) limitConnect(request, connectTimeoutMs, fail);
    request.once('error', reject);
    if (typeof init.body === 'string') request.write(init.body);
    request.end();
  });
}

/** Fails `request` (destroys it and rejects its promise) with CONNECT_TIMEOUT unless its socket is connected (and, for TLS, secured) within `ms`. */
function limitConnect(request: http.ClientRequest, ms: number, fail: (error: Error) => void): void {
  const timer = setTimeout(() => {
    fail(Object.assign(new Error(`no connection within ${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`} (connect timeout)`), { code: 'CONNECT_TIMEOUT' }));
  }, ms);
  const done = (): void => clearTimeout(timer);
  request.once('close', done);
  request.once('socket', (socket: Socket) => {
    if (socket instanceof TLSSocket) {
      if (secured.has(socket)) return done();
      socket.once('secureConnect', () => {
        secured.add(socket);
        done();
      });
    } else if (!socket.connecting) done();
    else socket.once('connect', done);
  });
}

/**
 * The CLI's fetch: every request through node:http / node:https with kept-alive connections, so that
 * it can bound the connect (`connectTimeoutMs`), which Node's global fetch does not let a caller set.
 * `httpsAgent`: the agent of a trust of its own (tlsFetch's CA file or pinned fingerprint); default
 * the system's CAs.
 */
export function cliFetch(options: { readonly connectTimeoutMs?: number; readonly httpsAgent?: https.Agent } = {}): FetchFunction {
  const httpAgent = new http.Agent({ keepAlive: true });
  const httpsAgent = options.httpsAgent ?? new https.Agent({ keepAlive: true });
  return (input, init) => requestOver(input.startsWith('https:') ? httpsAgent : httpAgent, input, init, options.connectTimeoutMs);
}
