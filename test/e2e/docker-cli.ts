/**
 * The real docker CLI (docker 28, /usr/local/bin/docker) pointed at a test server's Docker API face:
 * DOCKER_HOST is always set to the face, and DOCKER_CONFIG to a private directory made for the call
 * (empty, or holding only the config.json given), so no test ever reaches the machine's engine or
 * reads the user's ~/.docker.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The docker 28 CLI of the machine, else the docker on PATH (docker.io's); BERTH_TEST_DOCKER_CLI overrides it. */
export const DOCKER_CLI = process.env.BERTH_TEST_DOCKER_CLI ?? (existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker');

export interface DockerCliResult {
  /** The exit code (a CLI killed at its timeout: 124, as timeout(1)). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface DockerCliOptions {
  /** DOCKER_HOST: the face's address (`unix://…/docker.sock`, `tcp://127.0.0.1:PORT`). */
  readonly host: string;
  /** The contents of $DOCKER_CONFIG/config.json (e.g. `{ HttpHeaders: { Authorization: 'Bearer …' } }`); none: an empty directory. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** More environment (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH…). */
  readonly env?: Readonly<Record<string, string>>;
  /** Killed after this long. Default 60 000 ms. */
  readonly timeoutMs?: number;
}

/** Runs `docker ARGS…` against `berth`'s Docker API face (`startBerth({ dockerApi: true })`). */
export function dockerCli(berth: { readonly dockerHost: string | undefined }, ...args: string[]): Promise<DockerCliResult> {
  if (!berth.dockerHost) throw new Error('this berth has no Docker API face: start it with startBerth({ dockerApi: true })');
  return dockerCliWith({ host: berth.dockerHost }, ...args);
}

/** Runs `docker ARGS…` with DOCKER_HOST = `options.host` and a private DOCKER_CONFIG. */
export async function dockerCliWith(options: DockerCliOptions, ...args: string[]): Promise<DockerCliResult> {
  if (!/^(unix|tcp):\/\//.test(options.host) || options.host === 'unix:///var/run/docker.sock') throw new Error(`not a berth face: DOCKER_HOST=${options.host}`);
  const config = mkdtempSync(join(tmpdir(), 'berth-docker-config-'));
  if (options.config) writeFileSync(join(config, 'config.json'), JSON.stringify(options.config), { mode: 0o600 });
  // Nothing of the caller's Docker setup leaks in: no context, no pinned API version, no TLS files.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['DOCKER_CONTEXT', 'DOCKER_API_VERSION', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_TLS', 'DOCKER_CONTENT_TRUST']) delete env[name];
  Object.assign(env, { DOCKER_HOST: options.host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false', NO_COLOR: '1' }, options.env);
  try {
    return await new Promise<DockerCliResult>((resolve) => {
      execFile(DOCKER_CLI, args, { env, timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        const code = e === null ? 0 : e.killed ? 124 : typeof e.code === 'number' ? e.code : 1;
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
}
