import type { ContainerSpec, Instance } from '../model/index.js';

/** Host variables a plain process needs to behave (PATH lookup, locale, home); nothing else leaks in. */
const INHERITED = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL'];

export interface ContainerEnvOptions {
  readonly node: string;
  /** Absolute data directory of a stateful slot (BERTH_DATA_DIR). */
  readonly dataDir?: string;
  /** URL of berth's API, so programs can look things up (BERTH_API_URL). */
  readonly apiUrl?: string;
  /** The instance's service-account token for that API (BERTH_API_TOKEN). */
  readonly apiToken?: string;
  /** host:port of berth's DNS server (BERTH_DNS), so programs can resolve service names with it. */
  readonly dnsAddress?: string;
  /**
   * The value of a key of a secret of the instance's grid (env `valueFrom.secretKeyRef`); undefined
   * when the secret or the key does not exist.
   */
  readonly secretValue?: (name: string, key: string) => string | undefined;
  /** The server's own environment; only INHERITED names are taken. */
  readonly hostEnv: Readonly<Record<string, string | undefined>>;
}

/**
 * The complete environment of one container, in the order later entries may refer to earlier ones:
 * inherited host basics, berth's identity variables, PORT (the container's first port, else the
 * instance's first), BERTH_DATA_DIR, the control plane's variables (discovery), then the container's
 * own env with `$(VAR)` references expanded (Kubernetes' rule) and secret references resolved.
 * @throws Error naming the env var, the secret and the key when a referenced secret key is missing
 */
export function containerEnv(instance: Instance, container: ContainerSpec, options: ContainerEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const v = options.hostEnv[name];
    if (v !== undefined) env[name] = v;
  }
  env.BERTH_GRID = instance.grid;
  env.BERTH_SERVICE = instance.service;
  env.BERTH_SLOT = String(instance.slot);
  env.BERTH_INSTANCE = instance.id;
  env.BERTH_INSTANCE_IP = instance.spec.address;
  env.BERTH_NODE = options.node;
  env.BERTH_CONTAINER = container.name ?? instance.service;
  if (options.apiUrl) env.BERTH_API_URL = options.apiUrl;
  if (options.apiToken) env.BERTH_API_TOKEN = options.apiToken;
  if (options.dnsAddress) env.BERTH_DNS = options.dnsAddress;
  const firstPort = container.ports[0] ?? instance.spec.containers.flatMap((c) => c.ports)[0];
  if (firstPort) env.PORT = String(firstPort.containerPort);
  if (options.dataDir) env.BERTH_DATA_DIR = options.dataDir;
  Object.assign(env, instance.spec.env);
  for (const e of container.env) {
    if ('value' in e) {
      env[e.name] = expandVars(e.value, env);
      continue;
    }
    const ref = e.valueFrom.secretKeyRef;
    const value = options.secretValue?.(ref.name, ref.key);
    if (value === undefined) {
      throw new Error(`env ${e.name}: secret "${ref.name}" of grid "${instance.grid}" has no key "${ref.key}" (berth secret ls; berth secret update ${ref.name} --from-literal ${ref.key}=…)`);
    }
    // A secret's value is taken as it is: no $(VAR) expansion inside it.
    env[e.name] = value;
  }
  return env;
}

/** argv = command + args, each with `$(VAR)` expanded against the container's environment. */
export function containerArgv(container: ContainerSpec, env: Readonly<Record<string, string>>): string[] {
  return [...(container.command ?? []), ...container.args].map((a) => expandVars(a, env));
}

/**
 * Kubernetes' expansion: `$(VAR)` becomes VAR's value when VAR is defined and stays as written when
 * not; `$$(VAR)` is an escape for the literal `$(VAR)`.
 */
export function expandVars(input: string, env: Readonly<Record<string, string>>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    const v = name === undefined ? undefined : env[name];
    return v === undefined ? match : v;
  });
}
