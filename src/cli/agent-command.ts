import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { listenValue } from './server.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { labelValue } from './flag-values.js';

/** An IPv4 or IPv6 address (the node's address as other nodes reach it). */
function addressValue(value: string): string {
  const v = value.trim();
  if (!/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/.test(v)) throw new InvalidArgumentError(`"${value}": expected an IP address such as 10.0.0.2`);
  return v;
}

/** A TCP port, 0 to 65535. */
function portValue(value: string): number {
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(n >= 0 && n <= 65535)) throw new InvalidArgumentError(`"${value}": expected a port from 0 (none) to 65535`);
  return n;
}

/** `HOST:PORT` or `off`. */
function dnsValue(value: string): string {
  return value.trim() === 'off' ? 'off' : listenValue(value);
}

/** `http(s)://host:port` of the server. */
function serverValue(value: string): string {
  return value
    .split(',')
    .map((one) => {
      let url: URL;
      try {
        url = new URL(one.trim());
      } catch {
        throw new InvalidArgumentError(`"${one}": expected the server's URL, e.g. http://10.0.0.1:7420 (several servers: URL1,URL2)`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`"${one}": expected an http:// or https:// URL`);
      return url.origin;
    })
    .join(',');
}

/**
 * `berth agent --join URL --token T`: the node side of berth on a machine of its own (Swarm's `docker
 * swarm join`, a kubelet): joins once with a join token (`berth node join-token`), keeps the node's own
 * credential in its data directory, runs the instances assigned to the node and reports them. Runs in
 * the foreground until SIGINT/SIGTERM; its instances keep running and are re-adopted at its next start.
 */
export function agentCommand(deps: CliDeps): Command {
  return new Command('agent')
    .description('run this machine as a node of a berth server (joins once with a join token)')
    .requiredOption('--join <url>', "the server's URL, e.g. http://10.0.0.1:7420; several servers of one cluster: URL1,URL2 (the next is used when one is unreachable)", serverValue)
    .option('--token <token>', 'a join token (berth node join-token); needed only for the first join (default: $BERTH_JOIN_TOKEN)')
    .option('--name <name>', 'the node name (default: the host name)')
    .option('--address <ip>', 'where other nodes reach this one (default 127.0.0.1)', addressValue)
    .option('--label <key=value>', 'a label of the node when it first joins (node.labels.<key> of placement constraints; repeatable)', labelValue)
    .option('--data-dir <dir>', "the agent's state (default: the data directory's agent/ folder)")
    .option('--instance-user <user>', 'user instances run as when their spec names none')
    .option('--dns <host:port>', "this node's DNS server, or off (default 127.0.0.1:7453; a free port when taken)", dnsValue)
    .option('--telemetry-port <port>', "port of this node's telemetry listener at --address, where the servers read its instances' logs and stats (HTTPS with a self-signed certificate the servers pin, plain HTTP without openssl; a token the servers hand the agent; 0: none)", portValue, 10250)
    .addOption(new Option('--proxy <on|off>', "this node's proxy for virtual IPs, node ports and load balancers (default on; off: other nodes serve them; several agents on one machine: on for one only)").choices(['on', 'off']))
    .action(async (flags: { join: string; token?: string; name?: string; address?: string; label?: Record<string, string>; dataDir?: string; instanceUser?: string; dns?: string; proxy?: 'on' | 'off'; telemetryPort: number }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const joinToken = flags.token ?? ctx.env['BERTH_JOIN_TOKEN'];
      // An https server (any non-loopback --listen) with its own certificate: the CLI's trust settings.
      const fingerprint = ctx.env['BERTH_TLS_FINGERPRINT'];
      const tls = fingerprint ? { fingerprint } : ctx.tlsCa ? { caFile: ctx.tlsCa } : undefined;
      await deps.runAgent({
        server: flags.join,
        dataDir: flags.dataDir ?? join(ctx.dataDir(undefined), 'agent'),
        ...(joinToken ? { joinToken } : {}),
        ...(flags.name ? { node: flags.name } : {}),
        ...(flags.address ? { address: flags.address } : {}),
        ...(flags.label ? { labels: flags.label } : {}),
        ...(flags.instanceUser ? { instanceUser: flags.instanceUser } : {}),
        ...(flags.dns ? { dns: flags.dns } : {}),
        ...(flags.proxy ? { proxy: flags.proxy } : {}),
        telemetryPort: flags.telemetryPort,
        ...(tls ? { tls } : {}),
      });
    });
}
