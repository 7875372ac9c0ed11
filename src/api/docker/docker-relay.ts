import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { signToken, verifySignedToken } from '../../lib/index.js';
import type { Identity } from '../../model/index.js';
import { UnauthenticatedError } from '../../model/index.js';
import type { ForwardOptions } from '../leader-routing.js';

/*
 * The Docker face on several servers (docs/docker-api.md, "Several servers"). Every server serves the
 * face and reads from its replica; a write (service create, update, remove) is made by the leader
 * only. A follower passes the face's write on to the leader as it came — through the leader's berth
 * API listener (its advertised URL, the one address every server reaches), under DOCKER_RELAY_PATH —
 * and the leader runs it through an app of the face of its own (transport `relay`), with the face's own
 * mapping, checks and answers. The leader answers once the write is in etcd, the follower once its
 * replica holds it (api/leader-routing.ts), as for berth's own API.
 *
 * Who the request is travels with it: a TCP listener's bearer token as it came (the leader
 * authenticates it); for the unix socket, whose owner is the cluster admin by owning it, the follower
 * signs a relay credential with the cluster's key (DOCKER_RELAY_HEADER), bound to the request's method
 * and path and valid RELAY_TOKEN_TTL_MS: the leader accepts it as the socket's owner. A credential a
 * client sends itself is removed by the follower before passing the request on.
 */

/** Where the leader's berth API listener takes the face's writes: `/docker-relay/v1.50/services/create`. */
export const DOCKER_RELAY_PATH = '/docker-relay';
/** The header of the relay credential (`bdr1.<payload>.<mac>`). */
export const DOCKER_RELAY_HEADER = 'berth-docker-relay';
const RELAY_PREFIX = 'bdr1';
/** How long a relay credential is good for, ms: a request passed on is sent at once; this leaves room for clocks apart. */
export const RELAY_TOKEN_TTL_MS = 5 * 60_000;
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a follower signs for a request of its unix socket: the method, the path as the client sent it, the server, an expiry (epoch ms). */
interface RelayClaims {
  readonly m: string;
  readonly u: string;
  readonly s: string;
  readonly e: number;
}

/** The relay credential of one request: `server` names the follower (for the identity's subject). */
export function dockerRelayToken(request: { readonly method: string; readonly url: string }, options: { readonly key: Buffer; readonly server: string; readonly nowMs: number }): string {
  const claims: RelayClaims = { m: request.method, u: request.url, s: options.server, e: options.nowMs + RELAY_TOKEN_TTL_MS };
  return signToken(RELAY_PREFIX, JSON.stringify(claims), options.key);
}

/**
 * Who a request carrying a relay credential is: the owner of a follower's Docker socket, cluster admin.
 * @throws UnauthenticatedError (401) for a credential not signed with `key`, expired, or made for another method or path
 */
export function relayIdentity(token: string, request: { readonly method: string; readonly url: string }, options: { readonly key: Buffer; readonly nowMs: number }): Identity {
  const payload = verifySignedToken(RELAY_PREFIX, token, options.key);
  let claims: Partial<RelayClaims> | undefined;
  try {
    claims = payload === undefined ? undefined : (JSON.parse(payload) as Partial<RelayClaims>);
  } catch {
    claims = undefined;
  }
  if (!claims || typeof claims.m !== 'string' || typeof claims.u !== 'string' || typeof claims.s !== 'string' || typeof claims.e !== 'number') {
    throw new UnauthenticatedError('invalid Docker relay credential: not signed by a server of this cluster');
  }
  if (claims.e <= options.nowMs) throw new UnauthenticatedError(`invalid Docker relay credential: it expired at ${new Date(claims.e).toISOString()} (are the servers' clocks apart?)`);
  if (claims.m !== request.method || claims.u !== request.url) throw new UnauthenticatedError('invalid Docker relay credential: it was made for another request');
  return { kind: 'user', subject: `the owner of the Docker API socket of ${claims.s}`, grants: [{ role: 'cluster-admin' }] };
}

/**
 * How a listener's app of the face passes a write on to the leader: to DOCKER_RELAY_PATH + the path as
 * the client sent it (version prefix included, so that the leader answers as it would have); a unix
 * listener adds its relay credential, a TCP listener removes any the client sent (the relay app, which
 * passes a write on only when it came straight to a server that no longer leads, keeps it).
 */
export function relayForwarding(transport: 'unix' | 'tcp' | 'relay', sign: ((request: FastifyRequest) => string) | undefined): ForwardOptions {
  return {
    target: (leaderUrl, request) => new URL(`${DOCKER_RELAY_PATH}${request.originalUrl}`, leaderUrl),
    headers: (request) => (transport === 'relay' ? {} : { [DOCKER_RELAY_HEADER]: transport === 'unix' && sign ? sign(request) : undefined }),
  };
}

/**
 * The leader's side: a raw request of its berth API listener under DOCKER_RELAY_PATH, handed to the
 * relay app of the face (transport `relay`) with the prefix taken off; false for any other request
 * (reads are not relayed: they are berth's, which has no route there). The app must be ready
 * (`await app.ready()`).
 */
export function dispatchDockerRelay(relay: FastifyInstance): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '';
    if (!(url === DOCKER_RELAY_PATH || url.startsWith(`${DOCKER_RELAY_PATH}/`)) || READS.has(req.method ?? 'GET')) return false;
    req.url = url.slice(DOCKER_RELAY_PATH.length) || '/';
    relay.routing(req, res);
    return true;
  };
}
