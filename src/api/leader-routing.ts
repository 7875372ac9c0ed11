import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../lib/index.js';
import { CodedError } from '../lib/index.js';

/*
 * Several servers on one etcd (docs/control-plane.md): every server answers reads from its replica of
 * the store; writes are made by the leader only. A follower passes a write request on to the leader as
 * it came (its token included: the leader authenticates and authorizes it), and answers with the
 * leader's answer once its own replica holds that write — so a client that writes through one server
 * and then reads from it sees its write. The leader answers a write only once it is in etcd.
 */

/** Where writes go; app/ implements it from the election and the replication. */
export interface LeaderRouting {
  /** `leader`: writes are served here; `follower`: they go to `leaderUrl()`; `electing`: none leads yet. */
  role(): 'leader' | 'follower' | 'electing';
  /** The leader's API URL, when one is known. */
  leaderUrl(): string | undefined;
  /** Leader: resolves with etcd's revision once every write so far is in etcd; rejects when it cannot be. */
  flushed(): Promise<number>;
  /** Follower: resolves once the replica holds etcd's `revision` (true), or gives up (false). */
  caughtUp(revision: number): Promise<boolean>;
  /**
   * The cluster's control-plane servers as etcd lists them (store/server-registry.ts), each with its id
   * and API URL, sorted by id; the leader is the one whose URL is `leaderUrl()`.
   */
  servers(): readonly { readonly id: string; readonly url: string }[];
  /** The PEM certificate the leader's HTTPS is trusted by (the servers of one cluster share theirs). */
  readonly ca?: Buffer;
}

/**
 * What a control-plane server of a cluster is called where a node's name would stand (`berth version`'s
 * engine name, the Docker face's NodeID): `control-plane` and the first 8 characters of its election id.
 */
export function controlPlaneName(id: string): string {
  return `control-plane ${id.slice(0, 8)}`;
}

/** The header a leader's write answer carries: etcd's revision of that write. */
export const STORE_REVISION_HEADER = 'berth-store-revision';
/**
 * The header every answer of a control-plane server carries: the API URLs of the cluster's servers,
 * comma-separated (`routing.servers()`), so a client learns where else to go when this server dies
 * mid-command (client/http-transport.ts reads it under the same name).
 */
export const CONTROL_PLANE_SERVERS_HEADER = 'berth-control-plane-servers';

/** Sets CONTROL_PLANE_SERVERS_HEADER on every answer of berth's API (onSend). */
export function installControlPlaneServersHeader(app: FastifyInstance, routing: LeaderRouting): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    const urls = routing.servers().map((s) => s.url);
    if (urls.length > 0) void reply.header(CONTROL_PLANE_SERVERS_HEADER, urls.join(','));
    return payload;
  });
}

/** Set on a write a follower passes on (so that it is never passed on twice). */
const FORWARDED_HEADER = 'berth-forwarded';
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Headers not passed on (hop-by-hop, or set again by the next hop). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);
const FORWARD_TIMEOUT_MS = 60_000;

export function noLeaderError(): CodedError {
  return new CodedError('NO_LEADER', 'no server leads yet: the servers are electing one or the new leader is loading the store; retry in a few seconds', {});
}

const NOTHING_WRITTEN = Symbol('berth.nothingWritten');

/**
 * Marks a write request whose handler changed nothing in the store (a node heartbeat that only renewed
 * its liveness, which lives in the leader's memory): its answer does not wait until every earlier write
 * is in etcd. It has nothing to make durable, and an agent beats again only after the answer — so
 * behind a large replication backlog (one apply of 10,000 instances is seconds of etcd transactions)
 * its next beat would come late, and its node be marked down (bench/control-plane-scale). Call it only
 * when nothing was written: store.revision() unchanged across the synchronous handler.
 */
export function answerWithoutDurabilityWait(request: FastifyRequest): void {
  (request as unknown as Record<symbol, boolean>)[NOTHING_WRITTEN] = true;
}

/** How a face other than berth's API passes its writes on (the Docker face: api/docker/docker-relay.ts). */
export interface ForwardOptions {
  /** Where a write goes, given the leader's API URL (default: the same path and query there). */
  readonly target?: (leaderUrl: string, request: FastifyRequest) => URL;
  /** Headers to set on the request passed on (a value undefined removes the header). */
  readonly headers?: (request: FastifyRequest) => Readonly<Record<string, string | undefined>>;
}

/**
 * Installs the routing of writes (onRequest: a follower passes them on; onSend: the leader answers a
 * write once it is in etcd, with its revision). Install it before access control: the leader checks.
 */
export function installLeaderRouting(app: FastifyInstance, routing: LeaderRouting, logger: Logger, options: ForwardOptions = {}): void {
  app.addHook('onRequest', async (request, reply) => {
    if (READS.has(request.method)) return;
    const role = routing.role();
    if (role === 'leader') return;
    const leader = routing.leaderUrl();
    // One hop only: a write another server passed on here, thinking this one leads, is not passed on again.
    if (role === 'electing' || leader === undefined || request.headers[FORWARDED_HEADER] !== undefined) throw noLeaderError();
    await forward(request, reply, leader, routing, logger, options);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (READS.has(request.method) || routing.role() !== 'leader' || reply.statusCode >= 400) return payload;
    if ((request as unknown as Record<symbol, boolean>)[NOTHING_WRITTEN] === true) return payload;
    try {
      void reply.header(STORE_REVISION_HEADER, String(await routing.flushed()));
      return payload;
    } catch (error) {
      logger.error({ err: error, method: request.method, url: request.url }, 'a write could not be made durable');
      void reply.code(503).header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify({ code: 'STORE_UNAVAILABLE', message: `the write could not be stored in etcd (${(error as Error).message}); this server stops leading, retry`, details: {} });
    }
  });
}

async function forward(request: FastifyRequest, reply: FastifyReply, leader: string, routing: LeaderRouting, logger: Logger, options: ForwardOptions): Promise<void> {
  const target = options.target ? options.target(leader, request) : new URL(request.url, leader);
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  for (const [name, value] of Object.entries(options.headers?.(request) ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  // A unix socket's client has no address.
  if (request.ip) headers['x-forwarded-for'] = request.ip;
  else delete headers['x-forwarded-for'];
  headers[FORWARDED_HEADER] = '1';
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  let answer: IncomingMessage;
  try {
    answer = await new Promise<IncomingMessage>((resolve, reject) => {
      const out = send(target, { method: request.method, headers, timeout: FORWARD_TIMEOUT_MS, ...(routing.ca ? { ca: routing.ca } : {}) }, resolve);
      out.on('error', reject);
      out.on('timeout', () => out.destroy(new Error(`no answer within ${FORWARD_TIMEOUT_MS / 1000} s`)));
      request.raw.pipe(out);
    });
  } catch (error) {
    logger.warn({ err: error, leader }, 'the leader did not answer a forwarded write');
    throw new CodedError('NO_LEADER', `the leader at ${leader} did not answer (${(error as Error).message}); if it is gone another server leads within the lease, retry`, { leader });
  }
  const revision = Number(answer.headers[STORE_REVISION_HEADER]);
  if (Number.isSafeInteger(revision) && revision > 0) await routing.caughtUp(revision);
  void reply.code(answer.statusCode ?? 502);
  for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && name !== 'content-length' && value !== undefined) void reply.header(name, value);
  await reply.send(answer);
}
