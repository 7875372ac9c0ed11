import { EXIT_PIPE_CLOSED, main } from '../cli/index.js';
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
  async runServer({ dataDir, listen, dns }) {
    const server = await startServer({ dataDir, listen, ...(dns ? { dns } : {}) });
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
// The reader of our output went away (`berth … | head`): end now, as SIGPIPE would, without waiting for
// whatever the command still had under way (a deploy's wait, a long listing).
if (process.exitCode === EXIT_PIPE_CLOSED) process.exit(EXIT_PIPE_CLOSED);
