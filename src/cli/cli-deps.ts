/** Starts a berth server inside this process: `berth up` uses it when no server answers at the host. */
export interface ServerLauncher {
  /**
   * @param options.dataDir  the state directory (store, logs), created when missing
   * @param options.listen   `HOST:PORT` to listen on
   * @returns the URL it answers at, its admin token, what the operator must hear of (one sentence each,
   *   e.g. virtual IPs its containers cannot reach), and a `stop()` that shuts it down (instances keep running)
   */
  start(options: { dataDir: string; listen: string }): Promise<{ url: string; token: string; notices?: readonly string[]; stop(): Promise<void> }>;
}

/** What `berth server` hands to app/ (docs/cli.md); optional fields are left out when not given. */
export interface ServerOptions {
  readonly dataDir: string;
  readonly listen: string;
  readonly dns?: string;
  /** `--instance-user`. */
  readonly instanceUser?: string;
  /** `--allowed-root`, repeatable. */
  readonly allowedRoots?: readonly string[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** `--encryption-key-file`: keys that encrypt secrets at rest (the same file on every server of a cluster). */
  readonly encryptionKeyFile?: string;
  /** `--encryption-key-command`: a command printing those keys at start (a KMS's client), instead of the file. */
  readonly encryptionKeyCommand?: string;
  /** `--dns-allow`, repeatable. */
  readonly dnsAllow?: readonly string[];
  /** Write the CLI context (server URL and admin token) to this config (the default data directory's server does). */
  readonly cliConfig?: { readonly path: string; readonly context: string };
  /** `--max-replicas`. */
  readonly maxReplicas?: number;
  /** `--node-address`. */
  readonly nodeAddress?: string;
  /** `--node-grace`, ms. */
  readonly nodeGraceMs?: number;
  /** `--node-label`, repeatable: the node's labels when it is first registered. */
  readonly nodeLabels?: Readonly<Record<string, string>>;
  /** `--docker-api`, repeatable: `unix:///PATH`, `tcp://HOST:PORT`, or `off`. */
  readonly dockerApi?: readonly string[];
  /** `--docker-api-tls-cert`, `--docker-api-tls-key`, `--docker-api-tls-ca`. */
  readonly dockerApiTls?: { readonly cert?: string; readonly key?: string; readonly ca?: string };
  /** `--store`: a SQLite path or URL, or etcd://… for several servers (app/ parses it). */
  readonly store?: string;
  /** `--advertise-url`: where the other servers reach this one (several servers). */
  readonly advertiseUrl?: string;
  /** `--leader-lease`, seconds. */
  readonly leaderLeaseSeconds?: number;
}

/** What `berth agent` hands to app/ (docs/agents.md). */
export interface AgentOptions {
  readonly server: string;
  readonly dataDir: string;
  readonly joinToken?: string;
  readonly node?: string;
  readonly address?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly instanceUser?: string;
  /** `--dns HOST:PORT|off`. */
  readonly dns?: string;
  /** `--proxy on|off`. */
  readonly proxy?: 'on' | 'off';
  /** `--telemetry-port`: the node's telemetry listener (default 10250; 0: none). */
  readonly telemetryPort?: number;
  /** How an https server is trusted: `--tls-ca` / BERTH_TLS_CA, or BERTH_TLS_FINGERPRINT (as every command). */
  readonly tls?: { readonly caFile?: string; readonly fingerprint?: string };
}

/**
 * What the CLI needs from its host process. app/ provides the launcher and `runServer`; everything else
 * defaults to the real process (tests pass streams, env, cwd and an interrupt source of their own).
 */
export interface CliDeps {
  launcher: ServerLauncher;
  /** Runs `berth server` in the foreground until it is told to stop (SIGINT / SIGTERM, handled by app/). */
  runServer(options: ServerOptions): Promise<void>;
  /** Runs `berth agent` in the foreground until it is told to stop (SIGINT / SIGTERM, handled by app/). Absent: the command says it is unavailable. */
  runAgent(options: AgentOptions): Promise<void>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Read by `rm`'s confirmation and `apply -f -`. */
  stdin?: NodeJS.ReadableStream;
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths (`-w`, `-f`) are resolved against; default `process.cwd()`. */
  cwd?: string;
  /**
   * Subscribes to the user's Ctrl-C; returns the unsubscribe. Default: `process.on('SIGINT')`, which
   * also keeps Node from exiting on the first Ctrl-C while a command follows a stream.
   */
  onInterrupt?: (listener: () => void) => () => void;
  /** The caller's uid: root's default data directory is /var/lib/berth. Default `process.getuid()`. */
  uid?: number;
  /** The clock ages ("3m") are computed from. Default `Date.now`. */
  now?: () => number;
}
