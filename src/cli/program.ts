import { Command } from 'commander';
import { gridCommand, tokenCommand, whoamiCommand } from './access-commands.js';
import { applyCommand } from './apply.js';
import { configCommand, loginCommand } from './login-commands.js';
import { secretCommand } from './secret-commands.js';
import { nodeCommand } from './node-commands.js';
import { agentCommand } from './agent-command.js';
import { planCommand } from './plan-command.js';
import type { CliDeps } from './cli-deps.js';
import { diffCommand } from './diff.js';
import { dnsCommand } from './dns-command.js';
import { downCommand } from './down.js';
import { durationValue } from './flag-values.js';
import { endpointsCommand } from './endpoints-commands.js';
import { reportError } from './report-error.js';
import { ClosedPipeGuard, EXIT_PIPE_CLOSED } from './closed-pipe.js';
import { processInterrupts } from './cli-context.js';
import { serverCommand } from './server.js';
import { serviceCreateCommand } from './service-create.js';
import { serviceDeployCommand } from './service-deploy.js';
import { serviceEditCommand } from './service-edit.js';
import { serviceEventsCommand } from './service-events.js';
import { serviceHistoryCommand } from './service-history.js';
import { serviceLifecycleCommand } from './service-lifecycle.js';
import { serviceLogsCommand } from './service-logs.js';
import { serviceLsCommand } from './service-ls.js';
import { serviceMonitorCommand } from './service-monitor.js';
import { servicePsCommand } from './service-ps.js';
import { serviceRmCommand } from './service-rm.js';
import { serviceRollbackCommand } from './service-rollback.js';
import { serviceScaleCommand } from './service-scale.js';
import { serviceShowCommand } from './service-show.js';
import { serviceStatsCommand } from './service-stats.js';
import { serviceUpdateCommand } from './service-update.js';
import { serviceWhyCommand } from './service-why.js';
import { upCommand } from './up.js';
import { versionCommand } from './version.js';

/**
 * The `berth` command tree (docs/cli.md). Parsing never exits the process: errors surface as thrown
 * CommanderErrors and the program writes only to the deps' streams, so `main` can map everything to
 * an exit code and tests can run it in-process.
 */
export function buildProgram(deps: CliDeps): Command {
  const program = new Command('berth')
    .description('berth runs services: declare what to run and how many, berth keeps it running, named and observable')
    .option('--host <url>', 'berth server URL, or servers of one cluster separated by commas, tried in turn when one cannot be reached (default: $BERTH_HOST or http://127.0.0.1:7420)')
    .option('--grid <grid>', 'grid (namespace) to work in (default: $BERTH_GRID or default)')
    .option('--context <name>', 'context of the CLI config to use (default: $BERTH_CONTEXT or the current one)')
    .option('--tls-ca <file>', 'CA or self-signed certificate an https server must present (default: $BERTH_TLS_CA; or pin $BERTH_TLS_FINGERPRINT)')
    .option('--connect-timeout <duration>', 'give up connecting to a server after this long, and try the next --host (default: $BERTH_CONNECT_TIMEOUT or 5s; 0: no limit)', durationValue)
    .option('--request-timeout <duration>', 'give up waiting for a server\'s answer after this long, and try the next --host for reads; never cuts a quiet logs -f (default: $BERTH_REQUEST_TIMEOUT or 30s; 0: no limit)', durationValue)
    .showSuggestionAfterError();

  const service = new Command('service').alias('services').description('create, deploy, inspect and remove services (Kontena\'s commands)');
  for (const command of [
    serviceLsCommand(deps),
    serviceCreateCommand(deps),
    serviceUpdateCommand(deps),
    serviceEditCommand(deps),
    serviceDeployCommand(deps),
    serviceRollbackCommand(deps),
    serviceHistoryCommand(deps),
    serviceScaleCommand(deps),
    serviceLifecycleCommand(deps, 'start'),
    serviceLifecycleCommand(deps, 'stop'),
    serviceLifecycleCommand(deps, 'restart'),
    serviceRmCommand(deps),
    serviceShowCommand(deps),
    servicePsCommand(deps),
    serviceWhyCommand(deps),
    serviceLogsCommand(deps),
    serviceEventsCommand(deps),
    serviceStatsCommand(deps),
    serviceMonitorCommand(deps),
  ]) {
    service.addCommand(command);
  }
  program.addCommand(service);
  for (const command of [
    applyCommand(deps),
    diffCommand(deps),
    upCommand(deps),
    downCommand(deps),
    endpointsCommand(deps),
    dnsCommand(deps),
    serverCommand(deps),
    versionCommand(deps),
    loginCommand(deps),
    configCommand(deps),
    whoamiCommand(deps),
    tokenCommand(deps),
    gridCommand(deps),
    secretCommand(deps),
    nodeCommand(deps),
    agentCommand(deps),
    planCommand(deps),
  ]) {
    program.addCommand(command);
  }

  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const configure = (command: Command): void => {
    command
      .exitOverride()
      .configureOutput({ writeOut: (text) => stdout.write(text), writeErr: (text) => stderr.write(text) });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 success, 1 failure (printed as `error: …` on stderr),
 * 2 usage error, 141 when the reader of its output went away (EXIT_PIPE_CLOSED: `berth … | head`).
 * Never calls process.exit.
 *
 * A closed pipe ends the command quietly: commands that follow a stream or run until Ctrl-C (`logs
 * -f`, `monitor`, `up`) get the same interrupt as Ctrl-C and wind down (so `up` still stops what it
 * started); any other command is not waited for — main returns at once, and the caller exits the
 * process (app/main.ts), as SIGPIPE would end it.
 * @param argv `process.argv` as it is (`[node, script, ...args]`), or the user's arguments alone
 *   (`['service', 'ls']`); the two are told apart by the node executable in front.
 */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const pipe = new ClosedPipeGuard([stdout, stderr]);
  let subscribers = 0;
  const interrupts = deps.onInterrupt ?? processInterrupts;
  const withPipe: CliDeps = {
    ...deps,
    onInterrupt: (listener) => {
      subscribers++;
      const offSignal = interrupts(listener);
      const offPipe = pipe.onClose(listener);
      return () => {
        subscribers--;
        offSignal();
        offPipe();
      };
    },
  };
  const args = startsWithNode(argv) ? argv.slice(2) : [...argv];
  const run = (async (): Promise<number> => {
    if (args.length === 0) {
      buildProgram(withPipe).outputHelp();
      return 0;
    }
    try {
      await buildProgram(withPipe).parseAsync(args, { from: 'user' });
      return 0;
    } catch (e) {
      // Once the reader is gone, what went wrong after is of no use to anyone (and stderr may be gone too).
      return pipe.closed ? EXIT_PIPE_CLOSED : reportError(e, stderr);
    }
  })();
  const closed = new Promise<'closed'>((resolve) => pipe.onClose(() => resolve('closed')));
  const first = await Promise.race([run, closed]);
  if (first === 'closed' && subscribers === 0) return EXIT_PIPE_CLOSED;
  const code = await run;
  // A write's EPIPE is reported on a later tick than the write: let it arrive before deciding.
  await new Promise((resolve) => setImmediate(resolve));
  return pipe.closed ? EXIT_PIPE_CLOSED : code;
}

function startsWithNode(argv: readonly string[]): boolean {
  const first = argv[0];
  // A path, never a bare word: `berth node ls` passes ['node', 'ls'] (process.argv[0] is always a path).
  return first !== undefined && (first === process.execPath || /[\\/]node(js)?(\.exe)?$/.test(first));
}
