import { Command, InvalidArgumentError } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';

export const DEFAULT_LISTEN = '127.0.0.1:7420';

interface ServerFlags {
  readonly dataDir?: string;
  readonly listen: string;
  readonly dns?: string;
  readonly maxReplicas?: number;
}

/** `berth server`: runs the control plane, agent, DNS and proxy in the foreground (app/ does the work). */
export function serverCommand(deps: CliDeps): Command {
  return new Command('server')
    .description('run the berth server in the foreground (API, controllers, agent, DNS, proxy)')
    .option('--data-dir <dir>', 'state directory (default: $BERTH_DATA_DIR or ~/.local/share/berth)')
    .option('--listen <host:port>', 'address of the HTTP API', listenValue, DEFAULT_LISTEN)
    .option('--dns <host:port>', 'address of the DNS server', listenValue)
    .option('--max-replicas <n>', 'most replicas one service may ask for (default: $BERTH_MAX_REPLICAS or 1000)', positiveInteger)
    .action(async (flags: ServerFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      await deps.runServer({
        dataDir: ctx.dataDir(flags.dataDir),
        listen: flags.listen,
        ...(flags.dns ? { dns: flags.dns } : {}),
        ...(flags.maxReplicas !== undefined ? { maxReplicas: flags.maxReplicas } : {}),
      });
    });
}

/** A whole number >= 1 (the server checks its upper bound). */
function positiveInteger(value: string): number {
  const n = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}": expected a whole number of at least 1`);
  return n;
}

/** `HOST:PORT` (IPv6 hosts in brackets), port 0-65535. */
export function listenValue(value: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError(`"${value}": expected HOST:PORT, e.g. 127.0.0.1:7420`);
  return value.trim();
}
