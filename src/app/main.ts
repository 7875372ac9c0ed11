import { EXIT_PIPE_CLOSED, main } from '../cli/index.js';
import type { CliDeps } from '../cli/index.js';
import type { RunningServer } from './server.js';

/**
 * The `berth` binary: the CLI, given the two things only the composition root can make — a server
 * running in the foreground (`berth server`) and one embedded in the CLI process (`berth up`).
 */
const deps: CliDeps = {
  launcher: {
    async start({ dataDir, listen }) {
      const { startServer } = await import('./server.js');
      const server = await startServer({ dataDir, listen, logToFile: true });
      return { url: server.url, token: server.adminToken, notices: server.notices, stop: () => server.stop() };
    },
  },
  async runServer(options) {
    const { store, advertiseUrl, leaderLeaseSeconds, ...rest } = options;
    const { parseStoreUrl } = await import('../store/index.js');
    const storeUrl = parseStoreUrl(store, { dataDir: options.dataDir });
    if (storeUrl.kind === 'etcd') {
      // What only a server that runs a node uses: silently ignored, they looked applied.
      const nodeOnly = [options.dns ? '--dns' : '', options.dnsAllow ? '--dns-allow' : '', options.nodeLabels ? '--node-label' : '', options.nodeAddress ? '--node-address' : ''].filter((f) => f !== '');
      if (nodeOnly.length > 0) throw new Error(`${nodeOnly.join(', ')}: a server on etcd runs no node (no instances, DNS or proxy); give each machine's agent its DNS, labels and address (berth agent --dns, --label, --address)`);
      await runControlPlane({ ...options, store: store as string });
      return;
    }
    if (advertiseUrl !== undefined || leaderLeaseSeconds !== undefined) throw new Error('--advertise-url and --leader-lease go with --store etcd://… (several servers)');
    const { startServer } = await import('./server.js');
    const server = await startServer({ ...rest, storePath: storeUrl.path });
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
    const { startAgent } = await import('./remote-agent.js');
    const agent = await startAgent({ ...rest, dataPlane: { ...(dns ? { dns } : {}), ...(proxy ? { proxy } : {}) } });
    process.stderr.write(`berth agent: node ${agent.node} joined ${options.server} (data in ${options.dataDir})${agent.dnsAddress ? `; DNS on ${agent.dnsAddress}` : ''}${agent.telemetryAddress ? `; telemetry on ${agent.telemetryAddress} (${agent.telemetryFingerprint ? `https, SHA-256 ${agent.telemetryFingerprint}` : 'plain http'})` : ''}${'host' in agent.docker ? `; images on ${agent.docker.host} (network ${agent.docker.network}, ${agent.docker.subnet})` : `; no images: ${agent.docker.unavailable}`}\n`);
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    // Instances keep running: the next `berth agent` on this data directory re-adopts them.
    await agent.stop();
  },
};

/** `berth server --store etcd://…`: one of several servers (docs/control-plane.md). */
async function runControlPlane(options: Parameters<CliDeps['runServer']>[0] & { readonly store: string }): Promise<void> {
  const { startControlPlane } = await import('./control-plane.js');
  const server = await startControlPlane({
    dataDir: options.dataDir,
    listen: options.listen,
    store: options.store,
    logToFile: true,
    ...(options.advertiseUrl ? { advertiseUrl: options.advertiseUrl } : {}),
    ...(options.leaderLeaseSeconds ? { leaderLeaseSeconds: options.leaderLeaseSeconds } : {}),
    ...(options.nodeGraceMs ? { nodeGraceMs: options.nodeGraceMs } : {}),
    ...(options.maxReplicas ? { maxReplicas: options.maxReplicas } : {}),
    ...(options.instanceUser ? { instanceUser: options.instanceUser } : {}),
    ...(options.allowedRoots ? { allowedRoots: options.allowedRoots } : {}),
    ...(options.tlsCert && options.tlsKey ? { tlsCert: options.tlsCert, tlsKey: options.tlsKey } : {}),
    ...(options.encryptionKeyFile ? { encryptionKeyFile: options.encryptionKeyFile } : {}),
    ...(options.encryptionKeyCommand !== undefined ? { encryptionKeyCommand: options.encryptionKeyCommand } : {}),
    ...(options.dockerApi ? { dockerApi: options.dockerApi } : {}),
    ...(options.dockerApiTls ? { dockerApiTls: options.dockerApiTls } : {}),
    onFatal: (error) => {
      process.stderr.write(`berth server: ${error.message}; stopping (a restart loads the store from etcd again)\n`);
      process.exit(1);
    },
  });
  for (const notice of server.notices) process.stderr.write(`berth server: warning: ${notice}\n`);
  process.stderr.write(`berth server listening on ${server.url} (one of several servers on ${options.store}; data in ${options.dataDir})\n`);
  process.stderr.write(dockerApiNotes(server));
  // A follower says so at once (it may never lead): a silent one looked like a server still starting.
  const leader = server.leaderUrl();
  if (server.role() === 'follower' && leader !== undefined && leader !== server.url) {
    process.stderr.write(`berth server: this server follows; the leader is ${leader} (its admin.token, or any cluster-admin token, works on every server)\n`);
  }
  server.leading.then(
    () => process.stderr.write(`berth server: this server leads; admin token in ${server.adminTokenPath}\n`),
    () => undefined, // logged by the control plane
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.stop();
}

/** Who instances run as, where the Docker API face listens, and how a client trusts the certificate of an HTTPS server. */
function startNotes(server: RunningServer): string {
  const { instanceUser: user, tls } = server;
  let notes = `instances run as ${user.name} (uid ${user.uid}) unless their spec names a user\n`;
  notes += server.consoleBuilt ? `console: ${server.url}/ (sign in with the admin token)\n` : 'console: not built (run `npm run build` in berth\'s directory)\n';
  notes += dockerApiNotes(server);
  if (tls) {
    notes += `TLS certificate ${tls.certFile}${tls.selfSigned ? ' (self-signed)' : ''}, SHA-256 fingerprint ${tls.fingerprint}\n`;
    if (tls.selfSigned) notes += `clients: BERTH_TLS_FINGERPRINT=${tls.fingerprint}, or --tls-ca ${tls.certFile} (BERTH_TLS_CA)\n`;
  }
  return notes;
}

/** Where the Docker API face listens, copyable: the docker CLI and docker-py take DOCKER_HOST (docs/docker-api.md). */
function dockerApiNotes(server: { readonly dockerApi: readonly string[]; readonly dockerApiTls: boolean }): string {
  let notes = '';
  for (const address of server.dockerApi) {
    const tcp = address.startsWith('tcp://');
    const verify = tcp && server.dockerApiTls ? ' DOCKER_TLS_VERIFY=1' : '';
    const token = tcp ? ' (with a token: {"HttpHeaders": {"Authorization": "Bearer <token>"}} in $DOCKER_CONFIG/config.json)' : '';
    notes += `Docker API: DOCKER_HOST=${address}${verify}${token}\n`;
  }
  return notes;
}

process.exitCode = await main(process.argv, deps);
// The reader of our output went away (`berth … | head`): end now, as SIGPIPE would, without waiting for
// whatever the command still had under way (a deploy's wait, a long listing).
if (process.exitCode === EXIT_PIPE_CLOSED) process.exit(EXIT_PIPE_CLOSED);
