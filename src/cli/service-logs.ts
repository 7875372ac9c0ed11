import { Command } from 'commander';
import type { ResumedStream } from '../client/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { LogPrinter } from './log-printer.js';
import { countValue } from './spec-flags.js';

interface LogsFlags {
  readonly follow?: boolean;
  readonly tail: number;
  readonly since?: string;
  readonly instance?: string;
  readonly timestamps?: boolean;
  readonly events?: boolean;
}

/**
 * `berth service logs NAME`: the instances' output merged in time order (Kontena's `service logs`);
 * with `--events`, one timeline of the log lines and the service's events (deploys, probe failures,
 * exits, rollbacks), each line led by its time.
 */
export function serviceLogsCommand(deps: CliDeps): Command {
  return new Command('logs')
    .description('show the logs of a service, each line prefixed with its instance (web-2 |)')
    .argument('<name>', 'service name')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--tail <n>', 'lines to show from the end', countValue, 100)
    .option('--since <time>', 'only lines since an RFC 3339 time or a duration ago (10m, 1h)')
    .option('-i, --instance <n>', 'only this instance: a slot number or an instance id')
    .option('-t, --timestamps', 'show the time of each line')
    .option('--events', 'one timeline: the service\'s events (marked EVENT) between the log lines, in time order; --tail counts each')
    .action(async (name: string, flags: LogsFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const printer = new LogPrinter(ctx.stdout, { palette: ctx.palette, timestamps: flags.timestamps === true, timeline: flags.events === true });
      const interrupt = flags.follow ? ctx.interruptSignal() : undefined;
      try {
        const options = {
          tail: flags.tail,
          ...(flags.since ? { since: flags.since } : {}),
          ...(flags.instance ? { instance: flags.instance } : {}),
          ...(flags.follow ? { follow: true } : {}),
          ...(interrupt ? { signal: interrupt.signal } : {}),
          // A node whose agent did not answer: its instances' lines are missing, and we say so (stderr).
          onWarning: (w: { readonly message: string }) => ctx.note(`berth: warning: ${w.message}`),
          // --host A,B: its server died; the lines go on from the next, none twice, none lost.
          onResume: (r: ResumedStream) => ctx.noteResumed(r),
        };
        if (flags.events) {
          for await (const line of ctx.client.logs(ctx.grid, name, { ...options, events: true })) {
            if ('kind' in line) printer.writeEvent(name, line.event);
            else printer.write(name, line);
          }
        } else {
          for await (const line of ctx.client.logs(ctx.grid, name, options)) printer.write(name, line);
        }
      } finally {
        interrupt?.dispose();
      }
    });
}
