import { isIP } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../lib/index.js';
import { CliContext } from './cli-context.js';
import { UsageError } from './cli-error.js';
import { durationValue, labelValue } from './flag-values.js';
import type { CliDeps, ServerOptions } from './cli-deps.js';

export const DEFAULT_LISTEN = '127.0.0.1:7420';

interface ServerFlags {
  readonly dataDir?: string;
  readonly listen: string;
  readonly dns?: string;
  readonly instanceUser?: string;
  readonly allowedRoot?: string[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly encryptionKeyFile?: string;
  readonly encryptionKeyCommand?: string;
  readonly dnsAllow?: string[];
  readonly maxReplicas?: number;
  readonly dockerApi?: string[];
  readonly dockerApiTlsCert?: string;
  readonly dockerApiTlsKey?: string;
  readonly dockerApiTlsCa?: string;
  readonly nodeLabel?: Record<string, string>;
  readonly nodeGrace?: string;
  readonly nodeAddress?: string;
  readonly store?: string;
  readonly advertiseUrl?: string;
  readonly leaderLease?: string;
}

/** `berth server`: runs the control plane, agent, DNS and proxy in the foreground (app/ does the work). */
export function serverCommand(deps: CliDeps): Command {
  return new Command('server')
    .description('run the berth server in the foreground (API, controllers, agent, DNS, proxy)')
    .option('--data-dir <dir>', 'state directory (default: $BERTH_DATA_DIR, /var/lib/berth as root, else ~/.local/share/berth)')
    .option('--listen <host:port>', 'address of the HTTP API; a non-loopback one serves HTTPS', listenValue, DEFAULT_LISTEN)
    .option('--dns <host:port>', 'address of the DNS server', listenValue)
    .option('--instance-user <user>', 'user instances run as when their spec names none (default: $BERTH_INSTANCE_USER, berth as root, else the server\'s user)')
    .option('--allowed-root <dir>', 'directory instances may run in besides the data directory; repeatable (default: the directory the server starts in)', collect, [])
    .option('--tls-cert <file>', 'PEM certificate of the API (with --tls-key); default on a non-loopback --listen: a self-signed one in the data directory')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--encryption-key-file <file>', 'encrypt secret values (and, with --store etcd://, the cluster\'s signing key) at rest: one "NAME: BASE64" line per 32-byte key, the first encrypts, all decrypt; mode 0600; the same file on every server')
    .option('--encryption-key-command <command>', 'as --encryption-key-file, the keys printed by a command at start (run by /bin/sh; e.g. a KMS or vault client unwrapping them), so they need not be on disk')
    .option('--dns-allow <cidr>', 'clients the DNS server answers besides loopback and the instance range; repeatable', (v: string, all: string[]) => [...all, cidrValue(v)], [])
    .option('--max-replicas <n>', 'most replicas one service may ask for (default: $BERTH_MAX_REPLICAS or 1000)', positiveInteger)
    .option('--docker-api <addr>', 'listener of the Docker Engine API face: unix:///PATH or tcp://HOST:PORT, repeatable; off: none (default: $BERTH_DOCKER_API, else unix://<data-dir>/docker.sock)', (v: string, all: string[]) => [...all, dockerApiValue(v)], [])
    .option('--docker-api-tls-cert <file>', "PEM certificate of the Docker API face's TCP listeners (with --docker-api-tls-key); required off loopback")
    .option('--docker-api-tls-key <file>', 'PEM private key of --docker-api-tls-cert')
    .option('--docker-api-tls-ca <file>', "PEM CA that must have signed every client's certificate (dockerd's --tlsverify)")
    .option('--node-address <ip>', "where other nodes reach this server's node: its node ports and instances' node-published ports open there too (default 127.0.0.1)", (v: string) => {
      if (isIP(v.trim()) === 0) throw new InvalidArgumentError(`"${v}": expected an IP address such as 10.0.0.1`);
      return v.trim();
    })
    .option('--node-grace <duration>', 'a node whose heartbeats stop this long is down and its replicated instances move elsewhere (default 10s, as Swarm)', durationValue)
    .option('--node-label <key=value>', 'a label of this node when it is first registered (node.labels.<key> of placement constraints; repeatable; later: berth node update --label-add)', labelValue)
    .option('--store <url>', 'where the state lives: a SQLite file (sqlite:///path, default <data-dir>/berth.db), or etcd://h1:2379,h2:2379,h3:2379[?cacert=&cert=&key=&user=&prefix=] for several servers (API on all, controllers on the elected leader; no agent, DNS or proxy: run berth agent --join on each machine)')
    .option('--advertise-url <url>', 'with --store etcd://: where the other servers reach this one\'s API (default: the URL it listens at)', (v: string) => {
      if (!/^https?:\/\/[^\s/]+\/?$/.test(v.trim())) throw new InvalidArgumentError(`"${v}": expected http(s)://HOST:PORT`);
      return v.trim().replace(/\/$/, '');
    })
    .option('--leader-lease <duration>', 'with --store etcd://: the leader lease; a dead leader is replaced within it (default 5s; 2s to 60s)', durationValue)
    .action(async (flags: ServerFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither');
      if ((flags.dockerApiTlsCert === undefined) !== (flags.dockerApiTlsKey === undefined)) throw new UsageError('--docker-api-tls-cert and --docker-api-tls-key go together: give both, or neither');
      if (flags.encryptionKeyFile !== undefined && flags.encryptionKeyCommand !== undefined) throw new UsageError('--encryption-key-file and --encryption-key-command both give the keys: give one of them');
      if (flags.dockerApi && flags.dockerApi.includes('off') && flags.dockerApi.length > 1) throw new UsageError('--docker-api off turns the Docker API face off: give it alone');
      // Like k3s: the server on the default data directory (or any, with BERTH_CONFIG set) writes the
      // CLI's context "local", so the next `berth` command finds the server and its admin token.
      const writesConfig = (!flags.dataDir && !ctx.env['BERTH_DATA_DIR']) || Boolean(ctx.env['BERTH_CONFIG']);
      const cliConfig = writesConfig ? { path: ctx.configPath, context: 'local' } : undefined;
      const options: ServerOptions = {
        dataDir: ctx.dataDir(flags.dataDir),
        listen: flags.listen,
        ...(flags.dns ? { dns: flags.dns } : {}),
        ...(flags.instanceUser ? { instanceUser: flags.instanceUser } : {}),
        ...(flags.allowedRoot && flags.allowedRoot.length > 0 ? { allowedRoots: flags.allowedRoot } : {}),
        ...(flags.tlsCert && flags.tlsKey ? { tlsCert: flags.tlsCert, tlsKey: flags.tlsKey } : {}),
        ...(flags.encryptionKeyFile ? { encryptionKeyFile: flags.encryptionKeyFile } : {}),
        ...(flags.encryptionKeyCommand !== undefined ? { encryptionKeyCommand: flags.encryptionKeyCommand } : {}),
        ...(flags.dnsAllow && flags.dnsAllow.length > 0 ? { dnsAllow: flags.dnsAllow } : {}),
        ...(cliConfig ? { cliConfig } : {}),
        ...(flags.maxReplicas !== undefined ? { maxReplicas: flags.maxReplicas } : {}),
        ...(flags.nodeLabel ? { nodeLabels: flags.nodeLabel } : {}),
        ...(flags.nodeGrace ? { nodeGraceMs: graceMs(flags.nodeGrace) } : {}),
        ...(flags.nodeAddress ? { nodeAddress: flags.nodeAddress } : {}),
        ...(flags.store ? { store: flags.store } : {}),
        ...(flags.advertiseUrl ? { advertiseUrl: flags.advertiseUrl } : {}),
        ...(flags.leaderLease ? { leaderLeaseSeconds: leaseSeconds(flags.leaderLease) } : {}),
        ...(flags.dockerApi && flags.dockerApi.length > 0 ? { dockerApi: flags.dockerApi } : {}),
        ...(flags.dockerApiTlsCert || flags.dockerApiTlsKey || flags.dockerApiTlsCa
          ? { dockerApiTls: { ...(flags.dockerApiTlsCert ? { cert: flags.dockerApiTlsCert } : {}), ...(flags.dockerApiTlsKey ? { key: flags.dockerApiTlsKey } : {}), ...(flags.dockerApiTlsCa ? { ca: flags.dockerApiTlsCa } : {}) } }
          : {}),
      };
      await deps.runServer(options);
    });
}

/** `--leader-lease`: whole seconds from 2 (etcd's minimum TTL) to 60. */
function leaseSeconds(value: string): number {
  const ms = parseDuration(value);
  if (ms < 2000 || ms > 60_000 || ms % 1000 !== 0) throw new UsageError(`--leader-lease ${value}: expected whole seconds from 2s to 60s, e.g. 5s`);
  return ms / 1000;
}

/** `--node-grace`: 1 s to 1 h (shorter marks nodes down on a hiccup; longer leaves instances of a dead node unreplaced). */
function graceMs(value: string): number {
  const ms = parseDuration(value);
  if (ms < 1000 || ms > 3_600_000) throw new UsageError(`--node-grace ${value}: expected a duration from 1s to 1h, e.g. 10s`);
  return ms;
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

/** `unix:///ABSOLUTE/PATH`, `tcp://HOST:PORT` (IPv6 in brackets, port 0-65535), or `off`. */
export function dockerApiValue(value: string): string {
  const v = value.trim();
  if (v === 'off' || /^unix:\/\/\/\S*$/.test(v)) return v;
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:[\]/\s]+):(\d{1,5})$/.exec(v);
  if (m && Number(m[2]) <= 65535) return v;
  throw new InvalidArgumentError(`"${value}": expected unix:///PATH, tcp://HOST:PORT (e.g. tcp://127.0.0.1:2375), or off`);
}

/** An IPv4/IPv6 address or CIDR (`10.0.0.0/8`, `192.0.2.7`, `fd00::/8`). */
export function cidrValue(value: string): string {
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(value.trim());
  const family = isIP(m?.[1] ?? '');
  if (!m || family === 0 || (m[2] !== undefined && Number(m[2]) > (family === 4 ? 32 : 128))) {
    throw new InvalidArgumentError(`"${value}": expected an address or CIDR such as 10.0.0.0/8 or fd00::/8`);
  }
  return value.trim();
}

function collect(value: string, all: string[]): string[] {
  return [...all, value];
}
