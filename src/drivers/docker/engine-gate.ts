import type Dockerode from 'dockerode';
import { dockerClient, dockerHostOf } from './docker-client.js';

export { dockerClient } from './docker-client.js';

/** How long the engine has to answer `GET /_ping`, ms. */
const PING_TIMEOUT_MS = 2000;

/**
 * The gate of every test that needs a Docker Engine: a client of the engine DOCKER_HOST names (default
 * /var/run/docker.sock, see `dockerClient`) when it answers a ping within 2 s; otherwise
 *   - with `CI` set in the environment (as `.ci/run` sets it): throws, since CI installs and starts an
 *     engine and a test that silently skips there proves nothing;
 *   - elsewhere: prints one line `SKIP docker tests: <reason>` on stderr and resolves to undefined, so
 *     the caller writes `describe('…', { skip: docker === undefined }, …)`.
 * @throws Error "the Docker engine is required in CI: <reason>" (CI only).
 */
export async function dockerForTests(): Promise<Dockerode | undefined> {
  const reason = await unanswered();
  if (reason === undefined) return dockerClient();
  if (process.env.CI) {
    throw new Error(`the Docker engine is required in CI (.ci/run installs and starts one): ${reason}`);
  }
  process.stderr.write(`SKIP docker tests: ${reason}\n`);
  return undefined;
}

/** Why the engine did not answer, or undefined when it did. */
async function unanswered(): Promise<string | undefined> {
  const where = dockerHostOf();
  let docker: Dockerode;
  try {
    docker = dockerClient();
  } catch (e) {
    return (e as Error).message;
  }
  const signal = AbortSignal.timeout(PING_TIMEOUT_MS);
  try {
    // dockerode's ping takes an abort signal; its types do not say so.
    const ping = docker.ping.bind(docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping({ abortSignal: signal });
    return undefined;
  } catch (e) {
    if (signal.aborted) return `no answer from the engine at ${where} within ${PING_TIMEOUT_MS} ms`;
    return `the engine at ${where} did not answer: ${(e as Error).message}`;
  }
}
