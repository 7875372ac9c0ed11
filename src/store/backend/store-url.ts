import { isAbsolute, join, resolve } from 'node:path';
import { parseDuration } from '../../lib/index.js';
import { RequestInvalidError } from '../../model/index.js';

/** Where berth's state lives: an embedded SQLite file, or an etcd cluster. */
export type StoreUrl = SqliteStoreUrl | EtcdStoreUrl;

export interface SqliteStoreUrl {
  readonly kind: 'sqlite';
  /** An absolute path, or ':memory:'. */
  readonly path: string;
  /** The key root berth writes under (`/berth/` by default). */
  readonly prefix: string;
}

export interface EtcdStoreUrl {
  readonly kind: 'etcd';
  /** Client URLs, `http://h:2379` or `https://h:2379`. */
  readonly endpoints: readonly string[];
  /** PEM file paths (etcdctl's --cacert, --cert, --key); present when TLS is on. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly auth?: { readonly user: string; readonly password: string };
  readonly prefix: string;
  /** etcdctl's --dial-timeout, ms (default 2 s, as etcdctl). */
  readonly dialTimeoutMs: number;
}

const ETCD_OPTIONS = ['cacert', 'cert', 'key', 'user', 'password', 'prefix', 'dial-timeout'] as const;
const DEFAULT_PREFIX = '/berth/';
const DEFAULT_ETCD_PORT = 2379;
const FORMS = 'use sqlite:///path/to/berth.db, a plain path, or etcd://h1:2379,h2:2379,h3:2379 (etcds:// for TLS)';

/**
 * Parses `berth server --store VALUE`:
 * - nothing or '' → SQLite at `<dataDir>/berth.db` (the embedded default);
 * - `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite://:memory:`, or a plain path → SQLite (relative paths against `cwd`);
 * - `etcd://h1:2379,h2:2379,h3:2379[?options]` → etcd (port 2379 when left out; `[::1]:2379` for IPv6);
 *   `etcds://` or any of `cacert`/`cert`/`key` → TLS. Options are etcdctl's flag names: `cacert`, `cert`,
 *   `key` (file paths; `cert` and `key` go together), `user` (`name` or `name:password`, as etcdctl
 *   --user), `password`, `prefix` (key root, default `/berth/`), `dial-timeout` (`2s`, `500ms`).
 *   `BERTH_ETCD_USER` / `BERTH_ETCD_PASSWORD` in `env` give the credentials without putting the password
 *   on the command line (where `ps` shows it); the URL wins when both are given.
 * @throws RequestInvalidError naming the part that is wrong and the form to use
 */
export function parseStoreUrl(value: string | undefined, options: { readonly dataDir: string; readonly cwd?: string; readonly env?: NodeJS.ProcessEnv }): StoreUrl {
  const raw = (value ?? '').trim();
  const cwd = options.cwd ?? process.cwd();
  if (raw === '') return { kind: 'sqlite', path: resolve(cwd, join(options.dataDir, 'berth.db')), prefix: DEFAULT_PREFIX };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) return sqliteAt(raw, cwd);
  if (scheme === 'sqlite') return sqliteAt(raw.slice('sqlite://'.length), cwd);
  if (scheme === 'etcd' || scheme === 'etcds') return parseEtcd(raw.slice(scheme.length + 3), scheme === 'etcds', options.env ?? process.env);
  throw new RequestInvalidError(`--store: unknown scheme "${scheme}://"; ${FORMS}`);
}

function sqliteAt(path: string, cwd: string): SqliteStoreUrl {
  if (path === '') throw new RequestInvalidError(`--store: the SQLite path is empty; ${FORMS}`);
  if (path.includes('?')) throw new RequestInvalidError(`--store: SQLite takes no options ("${path.slice(path.indexOf('?'))}"); give the path only`);
  if (path === ':memory:') return { kind: 'sqlite', path, prefix: DEFAULT_PREFIX };
  return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path), prefix: DEFAULT_PREFIX };
}

function parseEtcd(rest: string, tlsScheme: boolean, env: NodeJS.ProcessEnv): EtcdStoreUrl {
  const q = rest.indexOf('?');
  const hostPart = (q < 0 ? rest : rest.slice(0, q)).replace(/\/$/, '');
  const query = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
  for (const name of new Set(query.keys())) {
    if (!(ETCD_OPTIONS as readonly string[]).includes(name)) throw new RequestInvalidError(`--store: unknown etcd option "${name}"; the options are ${ETCD_OPTIONS.join(', ')} (etcdctl's flag names)`);
    if (query.getAll(name).length > 1) throw new RequestInvalidError(`--store: etcd option "${name}" is given twice`);
  }
  if (hostPart.includes('@')) throw new RequestInvalidError('--store: put credentials in ?user=NAME and BERTH_ETCD_PASSWORD (or ?password=), not before the host');
  if (hostPart.includes('/')) throw new RequestInvalidError(`--store: "${hostPart}" has a path; etcd URLs name hosts only (etcd://h1:2379,h2:2379), the key root goes in ?prefix=/berth/`);
  if (hostPart === '') throw new RequestInvalidError(`--store: no etcd host; ${FORMS}`);
  const caFile = query.get('cacert') ?? undefined;
  const certFile = query.get('cert') ?? undefined;
  const keyFile = query.get('key') ?? undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new RequestInvalidError(`--store: cert and key go together (a client certificate and its private key); only ${certFile !== undefined ? 'cert' : 'key'} is given`);
  const tls = tlsScheme || caFile !== undefined || certFile !== undefined;
  const endpoints = hostPart.split(',').map((h) => endpoint(h.trim(), tls ? 'https' : 'http'));
  const auth = parseAuth(query, env);
  const prefix = query.get('prefix') ?? DEFAULT_PREFIX;
  if (!prefix.startsWith('/') || !prefix.endsWith('/') || prefix.length < 2) throw new RequestInvalidError(`--store: prefix "${prefix}" must start and end with "/" (as /berth/ or /team-a/berth/)`);
  let dialTimeoutMs = 2000;
  const dial = query.get('dial-timeout');
  if (dial !== null) {
    try {
      dialTimeoutMs = parseDuration(dial);
    } catch {
      throw new RequestInvalidError(`--store: dial-timeout "${dial}" is not a duration; use forms like 2s or 500ms`);
    }
    if (dialTimeoutMs <= 0) throw new RequestInvalidError(`--store: dial-timeout must be above 0, got "${dial}"`);
  }
  return {
    kind: 'etcd',
    endpoints,
    ...(tls ? { tls: { ...(caFile !== undefined ? { caFile } : {}), ...(certFile !== undefined ? { certFile } : {}), ...(keyFile !== undefined ? { keyFile } : {}) } } : {}),
    ...(auth ? { auth } : {}),
    prefix,
    dialTimeoutMs,
  };
}

function endpoint(host: string, scheme: 'http' | 'https'): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d+))?$/.exec(host);
  if (!m) throw new RequestInvalidError(`--store: etcd host "${host}" is not host[:port] (as h1:2379, 10.0.0.1, [::1]:2379)`);
  const port = m[2] !== undefined ? Number(m[2]) : DEFAULT_ETCD_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RequestInvalidError(`--store: etcd host "${host}" has port ${m[2]}, not in 1..65535`);
  return `${scheme}://${m[1]}:${port}`;
}

function parseAuth(query: URLSearchParams, env: NodeJS.ProcessEnv): { user: string; password: string } | undefined {
  const given = query.get('user') ?? env.BERTH_ETCD_USER;
  if (given === undefined || given === '') {
    if (query.get('password') !== null) throw new RequestInvalidError('--store: a password without a user; add ?user=NAME or set BERTH_ETCD_USER');
    return undefined;
  }
  const colon = given.indexOf(':');
  const user = colon < 0 ? given : given.slice(0, colon);
  const password = colon >= 0 ? given.slice(colon + 1) : (query.get('password') ?? env.BERTH_ETCD_PASSWORD);
  if (user === '') throw new RequestInvalidError('--store: the etcd user name is empty');
  if (password === undefined || password === '') throw new RequestInvalidError(`--store: etcd user "${user}" has no password; set BERTH_ETCD_PASSWORD (keeps it out of ps) or add ?password=`);
  return { user, password };
}
