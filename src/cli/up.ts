import { once } from 'node:events';
import { Command } from 'commander';
import { isApiError } from '../client/index.js';
import type { AppliedService } from './apply-manifest.js';
import { applyManifest } from './apply-manifest.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError } from './cli-error.js';
import type { ServiceProgress } from './convergence.js';
import { LogPrinter } from './log-printer.js';
import { readManifest } from './manifest.js';
import { durationValue } from './spec-flags.js';
import { DEFAULT_WAIT_TIMEOUT, rolloutTarget, waitWithProgress } from './wait-flags.js';

interface UpFlags {
  readonly file: string;
  readonly follow: boolean;
  readonly dataDir?: string;
  readonly timeout: string;
}

type EmbeddedServer = { url: string; token: string; stop(): Promise<void> };

/**
 * `berth up -f FILE`: everything a developer needs in one command (docker compose up). Starts a server
 * in this process when none answers at the host, applies and deploys the file, shows per-instance
 * progress until every service runs, prints where each is reachable, then follows the merged logs until
 * Ctrl-C — which stops the file's services, waits for them, and stops the embedded server if it started
 * one. A second Ctrl-C skips the wait.
 *
 * With `--no-follow` it returns once the services run; if it started an embedded server it keeps
 * serving (without logs) until Ctrl-C, since the services would be left unmanaged otherwise.
 */
export function upCommand(deps: CliDeps): Command {
  return new Command('up')
    .description('start a server if none runs, apply and deploy a manifest, wait, then follow the logs until Ctrl-C')
    .requiredOption('-f, --file <file>', 'YAML manifest, one service spec per document; - reads stdin')
    .option('--no-follow', 'do not follow the logs once the services run')
    .option('--data-dir <dir>', 'state directory of an embedded server (default: $BERTH_DATA_DIR or ~/.local/share/berth)')
    .option('--timeout <duration>', 'how long to wait for the services to run (and to stop on Ctrl-C)', durationValue, DEFAULT_WAIT_TIMEOUT)
    .action(async (flags: UpFlags, cmd: Command) => {
      let ctx = CliContext.of(deps, cmd);
      const manifest = await readManifest(flags.file, ctx);
      if (manifest.services.length === 0) throw new CliError(`${manifest.source} holds no services`);
      const interrupt = ctx.interruptSignal();
      const started = new Date(ctx.now()).toISOString();
      let embedded: EmbeddedServer | undefined;
      let applied: AppliedService[] = [];
      try {
        embedded = await ensureServer(ctx, flags.dataDir);
        if (embedded) ctx = ctx.withHost(embedded.url, embedded.token);
        applied = (await applyManifest(ctx, manifest, { keepGoing: false })).applied;
        for (const a of applied) {
          if (a.service.desired === 'stopped') {
            await ctx.client.start(a.grid, a.name);
            ctx.out(`service/${a.name} starting`);
          }
        }
        const targets = applied.map((a) => (a.deployed ? rolloutTarget(a.grid, a.service) : { grid: a.grid, name: a.name, goal: 'running' as const }));
        const progress = await waitWithProgress(ctx, targets, { timeout: flags.timeout, signal: interrupt.signal });
        const width = Math.max(...progress.map((p) => p.name.length));
        for (const p of progress) ctx.out(reachableLine(p, width));
        if (flags.follow) {
          ctx.note('following logs; Ctrl-C stops the services');
          await followLogs(ctx, applied, { since: started, signal: interrupt.signal });
        } else if (embedded) {
          ctx.note(`the embedded server keeps them running until Ctrl-C (run \`berth server\` separately to leave them running)`);
          await abortOf(interrupt.signal);
        } else {
          return;
        }
      } catch (e) {
        const interrupted = interrupt.signal.aborted;
        // An error with our own server: stop what we started rather than leave processes unmanaged.
        if (!interrupted && !embedded) throw e;
        if (!interrupted) {
          await tearDown(ctx, applied, embedded, flags.timeout);
          throw e;
        }
      } finally {
        interrupt.dispose();
      }
      await tearDown(ctx, applied, embedded, flags.timeout);
    });
}

/** Checks the host; when nothing answers there, starts a server in this process listening on its address. */
async function ensureServer(ctx: CliContext, dataDirFlag: string | undefined): Promise<EmbeddedServer | undefined> {
  try {
    await ctx.client.version();
    return undefined;
  } catch (e) {
    if (!isApiError(e, 'SERVER_UNREACHABLE')) throw e;
  }
  const url = new URL(ctx.host);
  const listen = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
  const dataDir = ctx.dataDir(dataDirFlag);
  ctx.note(`no berth server answers at ${ctx.host}: starting one in this process (data in ${dataDir})`);
  const server = await ctx.deps.launcher.start({ dataDir, listen });
  ctx.note(`berth server listening at ${server.url}`);
  for (const notice of server.notices ?? []) ctx.note(`warning: ${notice}`);
  return server;
}

/** Stops the file's services and waits (a second Ctrl-C skips the wait), then stops our server. */
async function tearDown(ctx: CliContext, applied: readonly AppliedService[], embedded: EmbeddedServer | undefined, timeout: string): Promise<void> {
  const again = ctx.interruptSignal();
  try {
    if (applied.length > 0) {
      ctx.note(`stopping ${applied.map((a) => a.name).join(', ')} (Ctrl-C again to stop waiting)`);
      for (const a of applied) await ctx.client.stop(a.grid, a.name);
      try {
        await waitWithProgress(ctx, applied.map((a) => ({ grid: a.grid, name: a.name, goal: 'stopped' as const })), { timeout, signal: again.signal });
      } catch (e) {
        if (!again.signal.aborted) throw e;
        ctx.note('stopped waiting');
      }
    }
  } finally {
    again.dispose();
    if (embedded) {
      ctx.note('stopping the embedded server');
      await embedded.stop();
    }
  }
}

/**
 * `web  http://127.96.0.3:3000 (virtual IP)  http://127.0.0.1:30080 (node port)  instances: http://…` —
 * the service's virtual IP and node ports first (what other programs should use), then each running
 * instance's container ports; the name padded to `width`.
 */
export function reachableLine(p: ServiceProgress, width = p.name.length): string {
  const scheme = (protocol: string): string => (protocol === 'UDP' ? 'udp' : 'http');
  const spec = p.service?.spec;
  const front: string[] = [];
  if (spec && spec.clusterIP && spec.clusterIP !== 'None') {
    const ports = spec.ports.length > 0 ? spec.ports : spec.containers.flatMap((c) => c.ports.map((cp) => ({ port: cp.containerPort, protocol: cp.protocol, nodePort: undefined, published: undefined })));
    for (const port of ports) front.push(`${scheme(port.protocol)}://${spec.clusterIP}:${port.port} (virtual IP)`);
    for (const port of ports) if (port.nodePort !== undefined) front.push(`${scheme(port.protocol)}://127.0.0.1:${port.nodePort} (node port)`);
    for (const port of ports) if (port.published !== undefined) front.push(`${scheme(port.protocol)}://127.0.0.1:${port.published} (published)`);
  }
  const urls: string[] = [];
  for (const i of p.instances) {
    if (i.desiredState !== 'running' || i.status.state !== 'running') continue;
    for (const c of i.spec.containers) {
      for (const port of c.ports) urls.push(`${scheme(port.protocol)}://${i.spec.address}:${port.containerPort}`);
    }
  }
  const running = p.service ? `${p.service.status.runningInstances}/${p.service.status.desiredInstances} running` : 'not found';
  const name = p.name.padEnd(width);
  if (front.length === 0 && urls.length === 0) return `${name}  ${running}, no ports`;
  return [name, ...front, ...(urls.length > 0 ? [`instances: ${urls.join(' ')}`] : [])].join('  ');
}

/** Follows the logs of every service, merged with `web-2 |` prefixes, until `signal` aborts. */
async function followLogs(ctx: CliContext, applied: readonly AppliedService[], options: { readonly since: string; readonly signal: AbortSignal }): Promise<void> {
  const printer = new LogPrinter(ctx.stdout, { palette: ctx.palette });
  const results = await Promise.allSettled(
    applied.map(async (a) => {
      const onWarning = (w: { readonly message: string }): void => ctx.note(`berth: warning: ${a.name}: ${w.message}`);
      const lines = ctx.client.logs(a.grid, a.name, { follow: true, since: options.since, signal: options.signal, onWarning, onResume: (r) => ctx.noteResumed(r) });
      for await (const line of lines) printer.write(a.name, line);
    }),
  );
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure && !options.signal.aborted) throw failure.reason;
  // Streams that ended by themselves (the server closed them): keep the promise of "until Ctrl-C".
  await abortOf(options.signal);
}

async function abortOf(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await once(signal, 'abort');
}
