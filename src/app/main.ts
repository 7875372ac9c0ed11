import { EXIT_PIPE_CLOSED, main } from '../cli/index.js';
import type { CliDeps } from '../cli/index.js';
import type { RunningServer } from './server.js';
import { startServer } from './server.js';
import { startAgent } from './remote-agent.js';

/**
 * The `berth` binary: the CLI, given the two things only the composition root can make — a server
 * running in the foreground (`berth server`) and one embedded in the CLI process (`berth up`).
 */
const deps: CliDeps = {
  launcher: {
    async start({ dataDir, listen }) {
      const server = await startServer({ dataDir, listen, logToFile: true });
      return { url: server.url, token: server.adminToken, stop: () => server.stop() };
    },
  },
  async runServer(options) {
    const server = await startServer(options);
    // Warnings first: whoever waits for the "listening" line has read them by then.
    for (const notice of server.notices) process.stderr.write(`berth server: warning: ${notice}\n`);
    process.stderr.write(`berth server listening on ${server.url} (data in ${options.dataDir})\n`);
    process.stderr.write(startNotes(server));
    process.stderr.write(`admin token in ${server.adminTokenPath}${server.cliConfigPath ? `; the CLI's context "${options.cliConfig?.context}" in ${server.cliConfigPath} uses it` : ''}\n`);
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    // Instances keep running: the next `berth server` on this data directory re-adopts them.
    await server.stop();
  },
  async runAgent(options) {
    const { dns, proxy, ...rest } = options; // tls passes through
    const agent = await startAgent({ ...rest, dataPlane: { ...(dns ? { dns } : {}), ...(proxy ? { proxy } : {}) } });
    process.stderr.write(`berth agent: node ${agent.node} joined ${options.server} (data in ${options.dataDir})${agent.dnsAddress ? `; DNS on ${agent.dnsAddress}` : ''}\n`);
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    // Instances keep running: the next `berth agent` on this data directory re-adopts them.
    await agent.stop();
  },
};

/** Who instances run as, where the Docker API face listens, and how a client trusts the certificate of an HTTPS server. */
function startNotes(server: RunningServer): string {
  const { instanceUser: user, tls } = server;
  let notes = `instances run as ${user.name} (uid ${user.uid}) unless their spec names a user\n`;
  notes += server.consoleBuilt ? `console: ${server.url}/ (sign in with the admin token)\n` : 'console: not built (run `npm run build` in berth\'s directory)\n';
  // Copyable: the docker CLI and docker-py take DOCKER_HOST (docs/docker-api.md).
  for (const address of server.dockerApi) {
    const tcp = address.startsWith('tcp://');
    const verify = tcp && server.dockerApiTls ? ' DOCKER_TLS_VERIFY=1' : '';
    const token = tcp ? ' (with a token: {"HttpHeaders": {"Authorization": "Bearer <token>"}} in $DOCKER_CONFIG/config.json)' : '';
    notes += `Docker API: DOCKER_HOST=${address}${verify}${token}\n`;
  }
  if (tls) {
    notes += `TLS certificate ${tls.certFile}${tls.selfSigned ? ' (self-signed)' : ''}, SHA-256 fingerprint ${tls.fingerprint}\n`;
    if (tls.selfSigned) notes += `clients: BERTH_TLS_FINGERPRINT=${tls.fingerprint}, or --tls-ca ${tls.certFile} (BERTH_TLS_CA)\n`;
  }
  return notes;
}

process.exitCode = await main(process.argv, deps);
// The reader of our output went away (`berth … | head`): end now, as SIGPIPE would, without waiting for
// whatever the command still had under way (a deploy's wait, a long listing).
if (process.exitCode === EXIT_PIPE_CLOSED) process.exit(EXIT_PIPE_CLOSED);
