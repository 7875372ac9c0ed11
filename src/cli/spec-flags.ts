import { resolve } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { ServiceSpec, ServiceSpecInput } from '../model/index.js';
import { UsageError } from './cli-error.js';
import type { ContainerFlags } from './container-flags.js';
import { DOCKER_CONTAINER_FLAGS, addContainerOptions, applyDockerFlags } from './container-flags.js';
import { countValue, durationValue, labelValue } from './flag-values.js';
import type { NetworkFlags, ServicePortInput } from './network-flags.js';
import { addNetworkOptions, applyNetworkFlags, servicePortsFromMappings } from './network-flags.js';
import type { PortMapping } from './port-flag.js';
import type { RolloutFlags } from './rollout-flags.js';
import { addRolloutOptions, applyHealthCheckFlags, applyRolloutFlags, healthCheckGiven, HEALTH_CHECK_FLAGS } from './rollout-flags.js';
import { parsePortFlag } from './port-flag.js';
import { splitShellWords } from './shell-words.js';

/*
 * The flags of `service create` and `service update` (Kontena's, where they apply to berth) and how
 * they map onto a service spec. Parsing validates each value as it is read, so a bad one fails with
 * commander's "option '-p, --ports <port>' argument … is invalid" naming the flag (exit 2).
 */

export interface EnvPair {
  readonly name: string;
  readonly value: string;
}

/** Parsed values of the spec flags; a flag not given is undefined. */
export interface SpecFlags extends NetworkFlags, RolloutFlags, ContainerFlags {
  readonly ports?: readonly PortMapping[];
  readonly env?: readonly EnvPair[];
  /** Env vars whose values go into the secret `<service>-env` (see secret-env.ts), not into the spec. */
  readonly secretEnv?: readonly EnvPair[];
  readonly cmd?: readonly string[];
  readonly instances?: number;
  readonly stateful?: boolean;
  readonly user?: string;
  readonly stopSignal?: string;
  readonly stopTimeout?: string;
  readonly deployStrategy?: 'ha' | 'daemon' | 'random';
  readonly label?: Readonly<Record<string, string>>;
  readonly restart?: 'any' | 'on-failure' | 'none';
  readonly restartDelay?: string;
  readonly restartMaxAttempts?: number;
  readonly workdir?: string;
  /** `update` only: the image to run (create takes it as its second argument). */
  readonly image?: string;
  /** Swarm's `--constraint` (`placement.constraints`): set on create, added on update. */
  readonly constraint?: readonly string[];
  /** `update` only: constraints to remove (Swarm's `--constraint-rm`), as written. */
  readonly constraintRm?: readonly string[];
  /** Swarm's `--placement-pref spread=KEY` (`placement.preferences`): set on create, added on update. */
  readonly placementPref?: readonly string[];
  /** `update` only: spread preferences to remove (Swarm's `--placement-pref-rm`). */
  readonly placementPrefRm?: readonly string[];
}

/** Adds the spec flags to `create` or `update` (update has `--image` and no `--stateful`, as Kontena). */
export function addSpecOptions(command: Command, which: 'create' | 'update'): Command {
  command
    .option('-p, --ports <published:target[/proto]>', 'publish on every node (at its address: 127.0.0.1 for berth server alone): connections to PUBLISHED are balanced over the ready instances\' port TARGET (repeatable; --port is a service port on the virtual IP)', collect(portValue))
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable; alias --environment)', collect(envValue))
    // Kontena's spelling (`kontena service update --environment FOO=BAR nginx`): the same list as -e, in order.
    .addOption(new Option('--environment <KEY=VALUE>').hideHelp())
    .option('--secret-env <KEY=VALUE>', 'set an environment variable whose value is kept in the secret <service>-env, never in the spec, events or answers (repeatable)', collect(envValue))
    .option('--cmd <command>', 'the command to run: split into words and run directly, or through /bin/sh -c when it uses shell syntax (;, &&, |, >, $VAR, loops)', cmdValue)
    .option('--instances <n>', 'number of instances (replicas)', countValue)
    .option('-u, --user <user>', 'user to run as (name or uid; honoured when berth runs as root)')
    .option('--stop-signal <signal>', 'signal that stops a container (default SIGTERM)')
    .option('--stop-timeout <duration>', 'time between the stop signal and SIGKILL: seconds or 10s, 1m (default 10s)', durationValue)
    .addOption(new Option('--deploy-strategy <strategy>', 'ha and random keep --instances replicas; daemon runs one instance per node').choices(['ha', 'daemon', 'random']))
    .option('--label <key=value>', 'set a label (repeatable)', labelValue)
    .addOption(new Option('--restart <condition>', 'when to restart an exited instance (default any)').choices(['any', 'on-failure', 'none']))
    .option('--restart-delay <duration>', 'first delay before a restart, doubled per failure (default 5s)', durationValue)
    .option('--restart-max-attempts <n>', 'restarts allowed; 0 = unlimited (default 0)', countValue)
    .option('-w, --workdir <dir>', 'working directory of the process (default for a service without an image: the current directory)')
    .option('--constraint <expr>', `a placement constraint, Swarm's: node.labels.zone==a, node.hostname!=n3 (repeatable${which === 'update' ? '; added to the service\'s' : ''})`, collect(constraintValue));
  if (which === 'update') command.option('--constraint-rm <expr>', 'remove a placement constraint, as written (repeatable)', collect(constraintValue));
  command.option('--placement-pref <pref>', `a spread preference, Swarm's: spread=node.labels.zone spreads the instances evenly over the label's values (repeatable, in order${which === 'update' ? '; added to the service\'s; deployed, it moves just enough instances to even the spread out' : ''})`, collect(placementPrefValue));
  if (which === 'update') command.option('--placement-pref-rm <pref>', 'remove a spread preference (spread=KEY; repeatable)', collect(placementPrefValue));
  command.on('option:environment', (value: string) => {
    command.setOptionValue('env', collect(envValue)(value, command.getOptionValue('env') as EnvPair[] | undefined));
  });
  addContainerOptions(command, which);
  addNetworkOptions(command, which);
  addRolloutOptions(command);
  if (which === 'create') command.option('--stateful', 'stable slots with a data directory each, kept across restarts');
  else command.option('--image <image>', 'run this image (docker driver)');
  return command;
}

/**
 * The spec `service create NAME [IMAGE]` sends.
 * @param options.cwd  the directory a service without an image runs in unless `-w` says otherwise
 * @throws UsageError when there is neither an IMAGE nor a `--cmd`, or when flags contradict each other
 */
export function specFromFlags(
  target: { readonly name: string; readonly image?: string | undefined },
  flags: SpecFlags,
  options: { readonly cwd: string },
): { spec: ServiceSpecInput; warnings: string[] } {
  const containerless = !target.image && !flags.cmd && (flags.endpoint !== undefined || flags.externalName !== undefined || flags.type === 'ExternalName');
  if (containerless) {
    // An ExternalName service or one whose endpoints are set by hand runs nothing (Kubernetes' service without a selector).
    const given = [...CONTAINER_FLAGS.filter((f) => f !== 'ports'), ...HEALTH_CHECK_FLAGS].filter((f) => flags[f] !== undefined);
    if (given.length > 0) throw new UsageError(`--${given.map(kebab).join(', --')} need a container: give an IMAGE or --cmd`);
    const spec: MutableSpec = { name: target.name, containers: [] };
    applyServiceFlags(spec, flags);
    return { spec: spec as ServiceSpecInput, warnings: [] };
  }
  if (!target.image && !flags.cmd) {
    throw new UsageError(
      `--cmd is required when no IMAGE is given: without an image berth runs the command as a plain process (e.g. berth service create ${target.name} --cmd "node server.js")`,
    );
  }
  const container: MutableContainer = {};
  if (target.image) container.image = target.image;
  if (!target.image) container.workingDir = options.cwd;
  const spec: MutableSpec = { name: target.name, containers: [container] };
  const warnings = applyContainerFlags(container, flags, options.cwd, false, target.name);
  applyServiceFlags(spec, flags);
  applyHealthCheckFlags(container, flags, (spec.ports as readonly unknown[] | undefined) ?? []);
  if (flags.stateful) spec.stateful = true;
  return { spec: spec as ServiceSpecInput, warnings };
}

/**
 * The spec `service update NAME` sends: the current spec with the given flags merged in. Lists merge
 * as Kontena's `update` does where that is useful: `-e` sets or replaces variables by name, `--label`
 * by key; `-p` replaces the whole port list (ports are declared together).
 * @throws UsageError when container flags are given for a service with several containers
 */
export function mergeSpecFlags(current: ServiceSpec, flags: SpecFlags, options: { readonly cwd: string }): { spec: ServiceSpecInput; warnings: string[] } {
  const spec = structuredClone(current) as unknown as MutableSpec;
  // A stored global spec carries replicas: 0, which the API refuses to take back with mode global.
  if (spec.mode === 'global') delete spec.replicas;
  const containerFlagGiven = CONTAINER_FLAGS.some((f) => flags[f] !== undefined);
  let warnings: string[] = [];
  if (containerFlagGiven) {
    if (spec.containers.length !== 1) {
      throw new UsageError(
        `service ${current.name} has ${spec.containers.length} containers; --${CONTAINER_FLAGS.filter((f) => flags[f] !== undefined).map(kebab).join(', --')} apply to single-container services only: change it with berth apply -f FILE`,
      );
    }
    warnings = applyContainerFlags(spec.containers[0] as MutableContainer, flags, options.cwd, true, current.name);
  }
  if (healthCheckGiven(flags)) {
    // As Kontena's service-level health check: the (first) container's probes.
    const first = spec.containers[0];
    if (!first) throw new UsageError(`service ${current.name} has no container: --health-check-* need one`);
    applyHealthCheckFlags(first, flags, (spec.ports as readonly unknown[] | undefined) ?? []);
  }
  if (flags.instances !== undefined && spec.mode === 'global' && flags.deployStrategy !== 'ha' && flags.deployStrategy !== 'random') {
    throw new UsageError(`service ${current.name} runs one instance per node (deploy strategy daemon): --instances does not apply; pass --deploy-strategy ha to switch`);
  }
  applyServiceFlags(spec, flags);
  return { spec: spec as ServiceSpecInput, warnings };
}

/** The service and container ports `-p` values make; ports are named `tcp-8080` when there are several. */
export function portsFromFlags(mappings: readonly PortMapping[]): { containerPorts: ContainerPortInput[]; servicePorts: ServicePortInput[] } {
  const containerPorts: ContainerPortInput[] = [];
  const seen = new Set<string>();
  for (const m of mappings) {
    const key = `${m.target}/${m.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    containerPorts.push({ containerPort: m.target, protocol: m.protocol });
  }
  return { containerPorts, servicePorts: servicePortsFromMappings(mappings) };
}

// ── mapping ─────────────────────────────────────────────────────────────────────────────────────

type MutableContainer = {
  -readonly [K in keyof ServiceSpecInput['containers'][number]]: ServiceSpecInput['containers'][number][K];
};
type MutableSpec = Omit<{ -readonly [K in keyof ServiceSpecInput]: ServiceSpecInput[K] }, 'containers'> & { containers: MutableContainer[] };
type ContainerPortInput = { containerPort: number; protocol: 'TCP' | 'UDP' };

const CONTAINER_FLAGS = ['image', 'cmd', 'env', 'secretEnv', 'user', 'stopSignal', 'stopTimeout', 'workdir', 'ports', ...DOCKER_CONTAINER_FLAGS] as const;

function applyContainerFlags(container: MutableContainer, flags: SpecFlags, cwd: string, merge = false, service = ''): string[] {
  const warnings: string[] = [];
  if (flags.image !== undefined) container.image = flags.image;
  if (flags.cmd !== undefined) {
    container.command = [...flags.cmd];
    container.args = [];
  }
  if (flags.env !== undefined || flags.secretEnv !== undefined) {
    const env = merge || flags.env === undefined ? currentEnv(container.env) : [];
    const set = (entry: EnvEntry): void => {
      const at = env.findIndex((e) => e.name === entry.name);
      if (at >= 0) env[at] = entry;
      else env.push(entry);
    };
    for (const pair of flags.env ?? []) set({ name: pair.name, value: pair.value });
    for (const pair of flags.secretEnv ?? []) set({ name: pair.name, valueFrom: { secretKeyRef: { name: secretEnvName(service), key: pair.name } } });
    container.env = env;
  }
  if (flags.user !== undefined) container.user = flags.user;
  if (flags.stopSignal !== undefined) container.stopSignal = flags.stopSignal;
  if (flags.stopTimeout !== undefined) container.stopGracePeriod = flags.stopTimeout;
  if (flags.workdir !== undefined) container.workingDir = resolve(cwd, flags.workdir);
  if (flags.ports !== undefined) {
    const { containerPorts } = portsFromFlags(flags.ports);
    container.ports = containerPorts;
    for (const m of flags.ports) {
      if (m.ip !== undefined) {
        warnings.push(`-p ${m.ip}:${m.published}:${m.target}: the address ${m.ip} is ignored; berth publishes port ${m.published} on the node's addresses (127.0.0.1 on a single machine)`);
      }
    }
  }
  applyDockerFlags(container, flags, merge);
  return warnings;
}

function applyServiceFlags(spec: MutableSpec, flags: SpecFlags): void {
  if (flags.deployStrategy === 'daemon') {
    if (flags.instances !== undefined) throw new UsageError('--instances does not apply with --deploy-strategy daemon: it runs one instance per node');
    spec.mode = 'global';
    delete spec.replicas;
  } else if (flags.deployStrategy !== undefined) {
    spec.mode = 'replicated';
  }
  if (flags.instances !== undefined) spec.replicas = flags.instances;
  if (flags.label !== undefined) spec.labels = { ...(spec.labels ?? {}), ...flags.label };
  if (flags.constraint !== undefined || flags.constraintRm !== undefined) {
    const removed = new Set(flags.constraintRm ?? []);
    const kept = (spec.placement?.constraints ?? []).filter((c) => !removed.has(c));
    spec.placement = { ...(spec.placement ?? {}), constraints: [...new Set([...kept, ...(flags.constraint ?? [])])] };
  }
  if (flags.placementPref !== undefined || flags.placementPrefRm !== undefined) {
    const removed = new Set(flags.placementPrefRm ?? []);
    const kept = (spec.placement?.preferences ?? []).map((p) => p.spread).filter((key) => !removed.has(key));
    spec.placement = { ...(spec.placement ?? {}), preferences: [...new Set([...kept, ...(flags.placementPref ?? [])])].map((spread) => ({ spread })) };
  }
  applyNetworkFlags(spec, flags, flags.ports === undefined ? undefined : servicePortsFromMappings(flags.ports));
  const restart = { ...(spec.restartPolicy ?? {}) };
  if (flags.restart !== undefined) restart.condition = flags.restart;
  if (flags.restartDelay !== undefined) restart.delay = flags.restartDelay;
  if (flags.restartMaxAttempts !== undefined) restart.maxAttempts = flags.restartMaxAttempts;
  if (Object.keys(restart).length > 0) spec.restartPolicy = restart;
  applyRolloutFlags(spec, flags);
}

type EnvEntry = { name: string; value: string } | { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } };

/** The env as given (a map, `K=v` strings or entries), as entries; secret references are kept as they are. */
function currentEnv(env: unknown): EnvEntry[] {
  if (Array.isArray(env)) {
    return env.map((e: unknown): EnvEntry => {
      if (typeof e === 'string') {
        const eq = e.indexOf('=');
        return eq > 0 ? { name: e.slice(0, eq), value: e.slice(eq + 1) } : { name: e, value: '' };
      }
      const entry = e as { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } };
      return entry.valueFrom ? { name: entry.name, valueFrom: entry.valueFrom } : { name: entry.name, value: entry.value ?? '' };
    });
  }
  if (env && typeof env === 'object') return Object.entries(env as Record<string, unknown>).map(([name, value]) => ({ name, value: String(value ?? '') }));
  return [];
}

/** The secret that `--secret-env` values of a service go into. */
export function secretEnvName(service: string): string {
  return `${service}-env`;
}

function kebab(flag: string): string {
  return flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export { countValue, durationValue, labelValue } from './flag-values.js';

// ── value parsers (commander calls them with each value as it is read) ──────────────────────────

function collect<T>(parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

function portValue(value: string): PortMapping {
  try {
    return parsePortFlag(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** `key==value` or `key!=value` (the server parses it as swarmkit does and names what is wrong). */
function constraintValue(value: string): string {
  const v = value.trim();
  if (!/^[^=!]+(==|!=).+$/.test(v)) throw new InvalidArgumentError(`"${value}": expected key==value or key!=value, e.g. node.labels.zone==a`);
  return v;
}

/** `spread=KEY` (Swarm's only placement preference), as the key: `spread=node.labels.zone` → `node.labels.zone`. */
function placementPrefValue(value: string): string {
  const m = /^\s*spread\s*=\s*(\S+)\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError(`"${value}": expected spread=KEY, e.g. spread=node.labels.zone`);
  return m[1] as string;
}

/** `KEY=VALUE` (Kontena's env form `/\A[^=]+=/`); the value may be empty or hold further `=`. */
export function envValue(value: string): EnvPair {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`"${value}": expected KEY=VALUE`);
  return { name: value.slice(0, eq), value: value.slice(eq + 1) };
}


/** Characters that mean more than a word to a shell when they are not quoted. */
const SHELL_OPERATORS = new Set([';', '&', '|', '<', '>', '`', '*', '?', '[', ']', '{', '}', '~', '#', '(', ')', '\n']);
const SHELL_KEYWORDS = /^\s*(while|for|until|if|case|exec|export|cd|set|trap|source|\.)(\s|$)/;

/** True when `value` uses shell syntax outside quotes, or `$` expansion anywhere but single quotes. */
export function needsShell(value: string): boolean {
  if (SHELL_KEYWORDS.test(value)) return true;
  let quote: "'" | '"' | undefined;
  for (let k = 0; k < value.length; k++) {
    const c = value[k] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      continue;
    }
    if (c === '\\') {
      k++;
      continue;
    }
    if (c === '$' && /[A-Za-z_{(0-9@*#?$!-]/.test(value[k + 1] ?? '')) {
      // $(VAR) is berth's own expansion (Kubernetes' syntax), not the shell's.
      const own = /^\$\([A-Za-z_][A-Za-z0-9_]*\)/.exec(value.slice(k));
      if (!own) return true;
      k += own[0].length - 1;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (SHELL_OPERATORS.has(c)) return true;
  }
  return false;
}

/**
 * `--cmd` in its two forms: with shell syntax (`while :; do …; done`, `a && b`, `> file`, `$HOME`) it
 * runs as `/bin/sh -c STRING` (Docker's shell form); otherwise it is split into words as a shell would
 * and run directly (exec form), so signals reach the program itself.
 */
export function cmdValue(value: string): string[] {
  if (value.trim() === '') throw new InvalidArgumentError('the command is empty');
  if (needsShell(value)) return ['/bin/sh', '-c', value];
  let words: string[];
  try {
    words = splitShellWords(value);
  } catch (e) {
    throw new InvalidArgumentError(`${JSON.stringify(value)}: ${(e as Error).message}`);
  }
  if (words.length === 0) throw new InvalidArgumentError('the command is empty');
  return words;
}
