import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { CodedError } from '../../lib/index.js';

/** Docker's own default engine socket (dockerd's `-H unix:///var/run/docker.sock`). */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The environment variables `dockerClient` reads, as the docker CLI reads them. */
export type DockerEnv = Readonly<Record<string, string | undefined>>;

/**
 * Where the engine is, in DOCKER_HOST's notation: `unix:///var/run/docker.sock` when DOCKER_HOST is
 * unset or empty, else DOCKER_HOST as given. For messages ("no engine answers at …").
 */
export function dockerHostOf(env: DockerEnv = process.env): string {
  return env.DOCKER_HOST || `unix://${DEFAULT_DOCKER_SOCKET}`;
}

/**
 * A Docker Engine API client for the engine that DOCKER_HOST names, read as the docker CLI reads it:
 *   - unset or empty           → the unix socket /var/run/docker.sock (Docker's default; a rootless or
 *                                Podman engine is reached by setting DOCKER_HOST to its socket, e.g.
 *                                `unix:///run/podman/podman.sock`);
 *   - `unix:///path/to.sock`   → that socket;
 *   - `tcp://host[:port]`      → HTTP to host:port (port 2375 by default); HTTPS when DOCKER_TLS_VERIFY
 *                                is set to anything but "" or "0" (port 2376 by default then), with
 *                                ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH (default ~/.docker).
 * No request is made here: a client of an engine that does not answer is returned all the same (ping
 * it to know). No request timeout is set, since the events stream and image pulls are long-lived; give
 * each short call an abort signal instead.
 * @throws CodedError `DOCKER_HOST_INVALID` for another scheme (ssh://, npipe://, fd://), a unix:// with no
 *   path, a tcp:// that is not a URL, or TLS files that cannot be read; the message names the value and
 *   the accepted shapes.
 */
export function dockerClient(env: DockerEnv = process.env): Dockerode {
  const host = env.DOCKER_HOST ?? '';
  if (host === '') return new Dockerode({ socketPath: DEFAULT_DOCKER_SOCKET });
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw invalidHost(host, 'unix:// needs an absolute socket path');
    return new Dockerode({ socketPath });
  }
  if (host.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${host.slice('tcp://'.length)}`);
    } catch {
      throw invalidHost(host, 'not a host[:port]');
    }
    if (url.hostname === '' || (url.pathname !== '/' && url.pathname !== '')) throw invalidHost(host, 'not a host[:port]');
    const tls = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0';
    const port = url.port === '' ? (tls ? 2376 : 2375) : Number(url.port);
    // URL keeps IPv6 literals bracketed; http.request wants them bare.
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!tls) return new Dockerode({ protocol: 'http', host: hostname, port });
    const certDir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
    try {
      const read = (file: string): Buffer => readFileSync(join(certDir, file));
      return new Dockerode({ protocol: 'https', host: hostname, port, ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') });
    } catch (e) {
      throw invalidHost(host, `DOCKER_TLS_VERIFY is set but the TLS files in ${certDir} cannot be read: ${(e as Error).message}`);
    }
  }
  throw invalidHost(host, 'berth reaches an engine over unix:// or tcp:// only');
}

function invalidHost(host: string, why: string): CodedError {
  return new CodedError(
    'DOCKER_HOST_INVALID',
    `DOCKER_HOST "${host}": ${why}; use unix:///path/to/docker.sock or tcp://host:port (unset: ${DEFAULT_DOCKER_SOCKET})`,
    { dockerHost: host },
  );
}
