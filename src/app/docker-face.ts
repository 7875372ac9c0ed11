import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DockerApiDeps } from '../api/index.js';
import { createDockerApi } from '../api/index.js';
import type { Logger } from '../lib/index.js';
import { CodedError, isLoopbackHost } from '../lib/index.js';

/*
 * The Docker Engine API face's listeners (docs/docker-api.md, "Transport and access"): a unix socket
 * (default `<data>/docker.sock`, 0600: owning it is the credential, as for /var/run/docker.sock) and
 * optional TCP listeners (bearer tokens; TLS required off loopback, client certificates with a CA, as
 * dockerd's --tlsverify). One fastify app per listener, so a request's transport is known by which app
 * received it — never guessed from its socket.
 */

/** The socket's name in the data directory. */
export const DOCKER_SOCKET_NAME = 'docker.sock';

export type DockerApiAddress = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** How long a connect to an existing socket file may take before it counts as stale, ms. */
const PROBE_TIMEOUT_MS = 1000;

/** `unix:///run/berth/docker.sock`, `tcp://127.0.0.1:2375`, `tcp://[::1]:2375`. */
export function formatDockerApiAddress(address: DockerApiAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`;
  return `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/**
 * Parses one `--docker-api` value: `unix:///absolute/path` or `tcp://HOST:PORT` (IPv6 in brackets).
 * @throws CodedError `DOCKER_API_INVALID` naming the value and the accepted shapes
 */
export function parseDockerApiAddress(value: string): DockerApiAddress {
  const v = value.trim();
  if (v.startsWith('unix://')) {
    const path = v.slice('unix://'.length);
    if (!isAbsolute(path)) throw invalid(value, 'unix:// needs an absolute path, e.g. unix:///run/berth/docker.sock');
    return { kind: 'unix', path };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:[\]/\s]+):(\d{1,5})$/.exec(v);
  if (m && Number(m[2]) <= 65535) return { kind: 'tcp', host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw invalid(value, 'expected unix:///PATH or tcp://HOST:PORT');
}

function invalid(value: string, why: string): CodedError {
  return new CodedError('DOCKER_API_INVALID', `--docker-api "${value}": ${why} (or "off")`, { value });
}

/**
 * The face's listeners: the `--docker-api` values, else BERTH_DOCKER_API (comma-separated), else the
 * socket `<dataDir>/docker.sock`; `off` (alone) turns the face off.
 * @throws CodedError `DOCKER_API_INVALID` for a value of another shape, or `off` beside addresses
 */
export function dockerApiAddresses(values: readonly string[] | undefined, env: NodeJS.ProcessEnv, dataDir: string): DockerApiAddress[] {
  const given = values && values.length > 0 ? values : (env.BERTH_DOCKER_API?.split(',').map((v) => v.trim()).filter(Boolean) ?? []);
  if (given.length === 0) return [{ kind: 'unix', path: join(dataDir, DOCKER_SOCKET_NAME) }];
  if (given.includes('off')) {
    if (given.length > 1) throw new CodedError('DOCKER_API_INVALID', `--docker-api off turns the Docker API face off: give it alone, not with ${given.filter((g) => g !== 'off').join(', ')}`, {});
    return [];
  }
  return given.map(parseDockerApiAddress);
}

/** `--docker-api-tls-cert`, `--docker-api-tls-key`, `--docker-api-tls-ca` (PEM files). */
export interface DockerApiTlsFiles {
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly ca?: string | undefined;
}

/** What the TCP listeners serve HTTPS with. */
export interface DockerApiTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
}

/**
 * The TLS of the face's TCP listeners: the given PEM files (checked: the key must match the
 * certificate), else none. A TCP listener off loopback without them is refused, as a Docker engine
 * open on the network without TLS is root for anyone who reaches it.
 * @throws CodedError `TLS_CONFIG_INVALID` (cert without key or the reverse, a CA without them, a file
 *   that is not PEM, a key that does not match); `DOCKER_API_TLS_REQUIRED` naming the address
 */
export function dockerApiTls(addresses: readonly DockerApiAddress[], files: DockerApiTlsFiles): DockerApiTls | undefined {
  if ((files.cert === undefined) !== (files.key === undefined)) throw new CodedError('TLS_CONFIG_INVALID', '--docker-api-tls-cert and --docker-api-tls-key go together: give both, or neither', {});
  if (files.ca !== undefined && files.cert === undefined) throw new CodedError('TLS_CONFIG_INVALID', '--docker-api-tls-ca checks client certificates: it needs --docker-api-tls-cert and --docker-api-tls-key too', {});
  if (files.cert === undefined || files.key === undefined) {
    const open = addresses.find((a) => a.kind === 'tcp' && !isLoopbackHost(a.host));
    if (open) {
      const shown = formatDockerApiAddress(open);
      throw new CodedError(
        'DOCKER_API_TLS_REQUIRED',
        `--docker-api ${shown} is not a loopback address: the Docker API face needs TLS there (anyone who reaches it could run containers): give --docker-api-tls-cert FILE and --docker-api-tls-key FILE (and --docker-api-tls-ca FILE to ask clients for certificates, as dockerd's --tlsverify), or listen on 127.0.0.1`,
        { address: shown },
      );
    }
    return undefined;
  }
  try {
    const cert = readFileSync(files.cert);
    const key = readFileSync(files.key);
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not match the certificate');
    const ca = files.ca === undefined ? undefined : readFileSync(files.ca);
    if (ca) new X509Certificate(ca);
    return { key, cert, ...(ca ? { ca } : {}) };
  } catch (e) {
    throw new CodedError('TLS_CONFIG_INVALID', `Docker API TLS (--docker-api-tls-cert ${files.cert}, --docker-api-tls-key ${files.key}${files.ca ? `, --docker-api-tls-ca ${files.ca}` : ''}): ${(e as Error).message}`, {});
  }
}

/**
 * Makes `path` free for a new socket: nothing there is fine; a socket file nobody answers on (left by a
 * server that crashed) is removed; a socket something listens on is refused, as is any other file.
 * @throws CodedError `DOCKER_API_IN_USE`
 */
export async function claimSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!isSocket) throw new CodedError('DOCKER_API_IN_USE', `--docker-api unix://${path}: ${path} exists and is not a socket; remove it, or name another path`, { path });
  if (await answers(path)) {
    throw new CodedError('DOCKER_API_IN_USE', `--docker-api unix://${path}: another process (a berth server, or a Docker engine) listens on ${path}; stop it, or name another path (--docker-api unix:///…, or off)`, { path });
  }
  rmSync(path, { force: true });
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (alive: boolean): void => {
      socket.destroy();
      resolve(alive);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The running face: where it listens, and how it stops. */
export interface DockerFace {
  /** Every listener as DOCKER_HOST takes it (`unix:///…/docker.sock`, `tcp://127.0.0.1:2375`; port 0 resolved). */
  readonly addresses: readonly string[];
  /** True when the TCP listeners serve HTTPS. */
  readonly tls: boolean;
  /** Closes every listener (open log streams are cut) and removes the socket files. */
  close(): Promise<void>;
}

/**
 * Opens one app of the face per address: a unix socket (claimed first, chmod 0600 as soon as it is
 * bound) or a TCP listener (HTTPS with `tls`). On a failure the listeners already open are closed.
 * @throws what claimSocketPath throws; the listen error (EADDRINUSE, EACCES…) named with its address
 */
export async function startDockerFace(addresses: readonly DockerApiAddress[], options: { readonly deps: DockerApiDeps; readonly tls?: DockerApiTls | undefined; readonly logger: Logger }): Promise<DockerFace> {
  const opened: { app: FastifyInstance; path?: string }[] = [];
  const shown: string[] = [];
  const close = async (): Promise<void> => {
    for (const { app, path } of opened.reverse()) {
      await app.close().catch((e: unknown) => options.logger.warn({ err: e }, 'closing a Docker API listener failed'));
      // Node removes a unix socket file when its server closes; this covers a close that failed.
      if (path !== undefined) rmSync(path, { force: true });
    }
    opened.length = 0;
  };
  try {
    for (const address of addresses) {
      if (address.kind === 'unix') {
        await claimSocketPath(address.path);
        const app = createDockerApi({ ...options.deps, transport: 'unix' });
        await listen(app, { path: address.path }, address);
        opened.push({ app, path: address.path });
        // connect(2) needs write permission on the socket: 0600 leaves it to the server's user (and
        // root). Between bind and this chmod the umask's mode holds (0755 under the usual 022: no one
        // else may connect either).
        chmodSync(address.path, 0o600);
        shown.push(formatDockerApiAddress(address));
      } else {
        const app = createDockerApi({ ...options.deps, transport: 'tcp', ...(options.tls ? { tls: options.tls } : {}) });
        await listen(app, { host: address.host, port: address.port }, address);
        opened.push({ app });
        const bound = app.server.address();
        shown.push(formatDockerApiAddress({ ...address, port: typeof bound === 'object' && bound ? bound.port : address.port }));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  options.logger.info({ addresses: shown }, 'Docker API face listening');
  return { addresses: shown, tls: options.tls !== undefined, close };
}

async function listen(app: FastifyInstance, where: { path: string } | { host: string; port: number }, address: DockerApiAddress): Promise<void> {
  try {
    await app.listen(where);
  } catch (error) {
    await app.close().catch(() => undefined);
    throw new CodedError('DOCKER_API_IN_USE', `--docker-api ${formatDockerApiAddress(address)}: cannot listen: ${(error as Error).message}`, { address: formatDockerApiAddress(address) });
  }
}
