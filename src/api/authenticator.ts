import type { Clock } from '../lib/index.js';
import { parseToken, sameHash, signToken, systemClock, verifySignedToken } from '../lib/index.js';
import type { Identity } from '../model/index.js';
import { UnauthenticatedError } from '../model/index.js';
import type { Store } from '../store/index.js';

/** Tells who a request is from its `Authorization` header. */
export interface Authenticator {
  /**
   * @param authorization the header's value, if any
   * @throws UnauthenticatedError (401) when there is no token or it is not valid
   */
  authenticate(authorization: string | undefined): Identity;
}

/** Verified tokens kept; past it the cache starts over (bounds memory against a flood of tokens). */
const MAX_CACHED = 10_000;

/** Prefix of service-account tokens (`bsa1.<payload>.<mac>`). */
const SERVICE_ACCOUNT_PREFIX = 'bsa1';

/** Which service a service-account token speaks for; `id` ties it to one incarnation of the name. */
export interface ServiceAccountRef {
  readonly grid: string;
  readonly service: string;
  readonly serviceId: string;
}

/**
 * The BERTH_API_TOKEN handed to a service's instances: signed with the server's key, so it needs no row
 * of its own; it dies with the service (a new service of the same name has another id).
 */
export function serviceAccountToken(ref: ServiceAccountRef, key: Buffer): string {
  return signToken(SERVICE_ACCOUNT_PREFIX, JSON.stringify({ g: ref.grid, s: ref.service, i: ref.serviceId }), key);
}

/** Prefix of node credentials (`bnd1.<payload>.<mac>`), given to an agent when it joins. */
const NODE_PREFIX = 'bnd1';

/**
 * The credential of one joined node, signed with the server's key: it names the node and the time it
 * joined, so it dies when the node is removed (a node of that name joined later has another time).
 */
export function nodeToken(node: string, joinedAt: string, key: Buffer): string {
  return signToken(NODE_PREFIX, JSON.stringify({ n: node, j: joinedAt }), key);
}

/** Prefix of node telemetry tokens (`btl1.<payload>.<mac>`): the servers present them to an agent's telemetry listener. */
const TELEMETRY_PREFIX = 'btl1';

/**
 * The token a server presents to one node's telemetry listener (docs/node-telemetry.md), derived with
 * the cluster's key from the node and the time it joined, as nodeToken is, under another prefix: the
 * agent gets it in its join and heartbeat answers and compares it in constant time, without the key.
 * It grants reading that node's logs and stats only; this authenticator never accepts it (it is not a
 * berth token), and a node removed and joined again gets another one.
 */
export function telemetryToken(node: string, joinedAt: string, key: Buffer): string {
  return signToken(TELEMETRY_PREFIX, JSON.stringify({ n: node, j: joinedAt }), key);
}

const NO_TOKEN =
  'no bearer token: every request to berth needs `Authorization: Bearer <token>`. The berth CLI sends the token of its current context (`berth login`); the server writes an admin token to <data-dir>/admin.token at first start';

/**
 * Bearer tokens of the store (`berth_<id>_<secret>`, kept as a hash) and service-account tokens signed
 * with `serviceAccountKey`. Unknown, revoked, expired and malformed tokens are all 401, with a message
 * that says which (a token is a secret already: saying that it expired leaks nothing).
 */
export class TokenAuthenticator implements Authenticator {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #clock: Clock;
  /**
   * Tokens verified since the store's accessRevision last moved: token → identity and expiry (ms). A
   * token created, revoked or whose grid was removed moves the revision, so the next request re-reads.
   */
  readonly #verified = new Map<string, { readonly identity: Identity; readonly expiresAtMs: number }>();
  #verifiedAt = -1;

  constructor(store: Store, options: { readonly serviceAccountKey: Buffer; readonly clock?: Clock }) {
    this.#store = store;
    this.#key = options.serviceAccountKey;
    this.#clock = options.clock ?? systemClock;
  }

  authenticate(authorization: string | undefined): Identity {
    if (authorization === undefined || authorization.trim() === '') throw new UnauthenticatedError(NO_TOKEN);
    const m = /^Bearer[ \t]+([!-~]{1,512})[ \t]*$/i.exec(authorization);
    if (!m) throw new UnauthenticatedError('malformed Authorization header: expected `Bearer <token>`');
    const token = m[1] as string;
    if (token.startsWith(`${SERVICE_ACCOUNT_PREFIX}.`)) return this.#serviceAccount(token);
    if (token.startsWith(`${NODE_PREFIX}.`)) return this.#node(token);
    const revision = this.#store.accessRevision();
    if (revision !== this.#verifiedAt || this.#verified.size >= MAX_CACHED) {
      this.#verified.clear();
      this.#verifiedAt = revision;
    }
    const cached = this.#verified.get(token);
    if (cached && cached.expiresAtMs > this.#clock.now()) return cached.identity;
    const identity = this.#userToken(token);
    return identity;
  }

  #userToken(token: string): Identity {
    const parsed = parseToken(token);
    if (!parsed) throw new UnauthenticatedError('invalid bearer token: not a berth token (berth_<id>_<secret>)');
    const stored = this.#store.getToken(parsed.id);
    if (!stored || !sameHash(stored.hash, parsed.hash)) throw new UnauthenticatedError(`invalid bearer token: token ${parsed.id} is unknown or was revoked`);
    if (stored.expiresAt !== undefined && Date.parse(stored.expiresAt) <= this.#clock.now()) {
      throw new UnauthenticatedError(`invalid bearer token: token ${parsed.id} expired at ${stored.expiresAt}; ask for a new one (\`berth token create\`)`);
    }
    const identity: Identity = {
      kind: 'user',
      subject: `token ${stored.id} (${stored.name})`,
      grants: [{ role: stored.role, ...(stored.grid === undefined ? {} : { grid: stored.grid }) }],
      tokenId: stored.id,
    };
    this.#verified.set(token, { identity, expiresAtMs: stored.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(stored.expiresAt) });
    return identity;
  }

  #node(token: string): Identity {
    const payload = verifySignedToken(NODE_PREFIX, token, this.#key);
    let ref: { n?: unknown; j?: unknown } | undefined;
    try {
      ref = payload === undefined ? undefined : (JSON.parse(payload) as typeof ref);
    } catch {
      ref = undefined;
    }
    if (!ref || typeof ref.n !== 'string' || typeof ref.j !== 'string') throw new UnauthenticatedError('invalid bearer token: a node credential that this server did not sign');
    const node = this.#store.getNode(ref.n);
    if (!node || node.joinedAt !== ref.j) throw new UnauthenticatedError(`invalid bearer token: node "${ref.n}" was removed since this credential was given; join again (berth agent --join URL --token <join token>)`);
    return { kind: 'node', subject: `node "${ref.n}"`, grants: [], node: ref.n };
  }

  #serviceAccount(token: string): Identity {
    const payload = verifySignedToken(SERVICE_ACCOUNT_PREFIX, token, this.#key);
    let ref: { g?: unknown; s?: unknown; i?: unknown } | undefined;
    try {
      ref = payload === undefined ? undefined : (JSON.parse(payload) as typeof ref);
    } catch {
      ref = undefined;
    }
    if (!ref || typeof ref.g !== 'string' || typeof ref.s !== 'string' || typeof ref.i !== 'string') {
      throw new UnauthenticatedError('invalid bearer token: a service-account token that this server did not sign');
    }
    const service = this.#store.getService(ref.g, ref.s);
    if (!service || service.id !== ref.i) throw new UnauthenticatedError(`invalid bearer token: the service "${ref.s}" this token belonged to was removed`);
    const role = service.spec.serviceAccount?.role;
    return {
      kind: 'service',
      subject: `service "${ref.s}" in grid "${ref.g}"`,
      grants: role ? [{ role, grid: ref.g }] : [],
      service: { grid: ref.g, name: ref.s },
    };
  }
}
