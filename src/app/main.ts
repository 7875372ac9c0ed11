import { main } from '../cli/index.js';
import type { CliDeps } from '../cli/index.js';
import { startServer } from './server.js';

/**
 * The `berth` binary: the CLI, given the two things only the composition root can make — a server
 * running in the foreground (`berth server`) and one embedded in the CLI process (`berth up`).
 */
const deps: CliDeps = {
  launcher: {
    async start({ dataDir, listen }) {
      const server = await startServer({ dataDir, listen, logToFile: true });
      return { url: server.url, stop: () => server.stop() };
    },
  },
  async runServer({ dataDir, listen, dns, maxReplicas }) {
    const server = await startServer({ dataDir, listen, ...(dns ? { dns } : {}), ...(maxReplicas !== undefined ? { maxReplicas } : {}) });
    process.stderr.write(`berth server listening on ${server.url} (data in ${dataDir})\n`);
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    // Instances keep running: the next `berth server` on this data directory re-adopts them.
    await server.stop();
  },
};

process.exitCode = await main(process.argv, deps);
