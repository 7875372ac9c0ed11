import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { ServiceSpecInput } from '../model/index.js';
import { parseCpus, parseMemoryBytes } from '../lib/index.js';
import { UsageError } from './cli-error.js';
import { labelValue } from './flag-values.js';
import type { MountInput } from './mount-flag.js';
import { parseMountFlag } from './mount-flag.js';

/*
 * The flags of Swarm's ContainerSpec fields (issue 10 §4) on `service create` and `service update`,
 * under docker service create's names: --image-pull-policy, --hostname, --container-label, --mount,
 * --cpus/--memory (docker service's --limit-cpu/--limit-memory are accepted too) and
 * --reserve-cpu/--reserve-memory. Values are checked as they are read (exit 2 naming the flag); what
 * needs the whole spec (a bind mount without a source, a reservation past its limit) is the server's to
 * refuse, with the field it names.
 */

/** Parsed values; a flag not given is undefined. CPUs and memory of 0 mean "no limit" (docker service update's 0). */
export interface ContainerFlags {
  readonly imagePullPolicy?: 'IfNotPresent' | 'Always' | 'Never';
  readonly hostname?: string;
  readonly containerLabel?: Readonly<Record<string, string>>;
  /** `update` only: container label keys to remove. */
  readonly containerLabelRm?: readonly string[];
  readonly mount?: readonly MountInput[];
  /** `update` only: docker service update's spelling of --mount. */
  readonly mountAdd?: readonly MountInput[];
  /** `update` only: targets of mounts to remove. */
  readonly mountRm?: readonly string[];
  readonly cpus?: number;
  readonly limitCpu?: number;
  /** Bytes. */
  readonly memory?: number;
  readonly limitMemory?: number;
  readonly reserveCpu?: number;
  readonly reserveMemory?: number;
}

/** The flags above, by attribute name. */
export const DOCKER_CONTAINER_FLAGS = [
  'imagePullPolicy', 'hostname', 'containerLabel', 'containerLabelRm', 'mount', 'mountAdd', 'mountRm',
  'cpus', 'limitCpu', 'memory', 'limitMemory', 'reserveCpu', 'reserveMemory',
] as const satisfies readonly (keyof ContainerFlags)[];

/** Flags only the docker driver honours: they need an image (container labels are metadata a process may carry). */
const IMAGE_ONLY_FLAGS = DOCKER_CONTAINER_FLAGS.filter((f) => f !== 'containerLabel' && f !== 'containerLabelRm');

export function addContainerOptions(command: Command, which: 'create' | 'update'): Command {
  command
    .addOption(new Option('--image-pull-policy <policy>', 'when to pull the image: IfNotPresent (default), Always, Never').choices(['IfNotPresent', 'Always', 'Never']))
    .option('--hostname <name>', 'the container\'s hostname (an RFC 1123 label)', hostnameValue)
    .option('--container-label <key=value>', 'set a label on the container (repeatable; --label labels the service)', labelValue)
    .option('--mount <type=…,source=…,target=…>', 'mount a bind path, a volume or a tmpfs, Docker\'s --mount syntax (repeatable)', collect(mountValue))
    .option('--cpus <cpus>', 'CPU limit, e.g. 0.5 or 500m (alias --limit-cpu; 0: none)', cpusValue)
    .addOption(new Option('--limit-cpu <cpus>').argParser(cpusValue).hideHelp())
    .option('--memory <size>', 'memory limit, e.g. 256Mi, 512m, 1G (alias --limit-memory; 0: none)', memoryValue)
    .addOption(new Option('--limit-memory <size>').argParser(memoryValue).hideHelp())
    .option('--reserve-cpu <cpus>', 'CPUs reserved for the container (0: none)', cpusValue)
    .option('--reserve-memory <size>', 'memory reserved for the container (0: none)', memoryValue);
  if (which === 'update') {
    command
      .addOption(new Option('--mount-add <type=…,source=…,target=…>').argParser(collect(mountValue)).hideHelp())
      .option('--mount-rm <target>', 'remove the mount at this target (repeatable)', collect(targetValue))
      .option('--container-label-rm <key>', 'remove a container label (repeatable)', collect((v: string) => v));
  }
  return command;
}

type MutableContainer = { -readonly [K in keyof ServiceSpecInput['containers'][number]]: ServiceSpecInput['containers'][number][K] };
type ResourceListInput = { cpus?: number | string; memory?: number | string };

/** The image-only flags given, as `--flag` names (for messages). */
export function imageOnlyFlagsGiven(flags: ContainerFlags): string[] {
  return IMAGE_ONLY_FLAGS.filter((f) => flags[f] !== undefined).map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/**
 * Applies the flags to `container`: create sets, update (`merge`) changes the current container —
 * labels by key, mounts by target (a new mount at a target replaces the old one, `--mount-rm` removes),
 * resources by name (0 removes a limit or reservation).
 * @throws UsageError when an alias and its flag are both given, or an image-only flag is given for a
 *   container without an image
 */
export function applyDockerFlags(container: MutableContainer, flags: ContainerFlags, merge: boolean): void {
  const imageOnly = imageOnlyFlagsGiven(flags);
  if (imageOnly.length > 0 && container.image === undefined) {
    throw new UsageError(`${imageOnly.join(', ')} apply to a container with an image (the docker driver enforces them); ${merge ? 'give --image' : 'give an IMAGE'} or leave them out`);
  }
  if (flags.imagePullPolicy !== undefined) container.imagePullPolicy = flags.imagePullPolicy;
  if (flags.hostname !== undefined) container.hostname = flags.hostname;
  if (flags.containerLabel !== undefined || flags.containerLabelRm !== undefined) {
    const labels: Record<string, string> = { ...(merge ? (container.labels ?? {}) : {}), ...(flags.containerLabel ?? {}) };
    for (const key of flags.containerLabelRm ?? []) delete labels[key];
    container.labels = labels;
  }
  const added = [...(flags.mount ?? []), ...(flags.mountAdd ?? [])];
  if (added.length > 0 || flags.mountRm !== undefined) {
    const removed = new Set([...(flags.mountRm ?? []), ...added.map((m) => m.target)].map(normalizeTarget));
    const kept = (merge ? (container.mounts ?? []) : []).filter((m) => !removed.has(normalizeTarget(m.target)));
    const missing = (flags.mountRm ?? []).filter((t) => !(container.mounts ?? []).some((m) => normalizeTarget(m.target) === normalizeTarget(t)));
    if (missing.length > 0) throw new UsageError(`--mount-rm ${missing.join(', ')}: the container has no mount at ${missing.length > 1 ? 'these targets' : 'this target'}`);
    container.mounts = [...kept, ...added];
  }
  const limitCpu = oneOf(flags.cpus, flags.limitCpu, '--cpus', '--limit-cpu');
  const limitMemory = oneOf(flags.memory, flags.limitMemory, '--memory', '--limit-memory');
  if ([limitCpu, limitMemory, flags.reserveCpu, flags.reserveMemory].some((v) => v !== undefined)) {
    const current = merge ? container.resources : undefined;
    const limits = setResources(current?.limits, limitCpu, limitMemory);
    const reservations = setResources(current?.reservations, flags.reserveCpu, flags.reserveMemory);
    container.resources = { ...(limits ? { limits } : {}), ...(reservations ? { reservations } : {}) };
  }
}

function setResources(current: ResourceListInput | undefined, cpus: number | undefined, memory: number | undefined): ResourceListInput | undefined {
  const out: ResourceListInput = { ...(current ?? {}) };
  if (cpus === 0) delete out.cpus;
  else if (cpus !== undefined) out.cpus = cpus;
  if (memory === 0) delete out.memory;
  else if (memory !== undefined) out.memory = memory;
  return Object.keys(out).length > 0 ? out : undefined;
}

function oneOf<T>(a: T | undefined, b: T | undefined, aName: string, bName: string): T | undefined {
  if (a !== undefined && b !== undefined) throw new UsageError(`${aName} and ${bName} are the same limit: give one of them`);
  return a ?? b;
}

function normalizeTarget(target: string): string {
  return target.length > 1 ? target.replace(/\/+$/, '') : target;
}

// ── value parsers ───────────────────────────────────────────────────────────────────────────────

function collect<T>(parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

function mountValue(value: string): MountInput {
  try {
    return parseMountFlag(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function targetValue(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError(`"${value}": expected the mount's target, an absolute path in the container`);
  return value;
}

/** CPUs (0.5, 2, 500m), or 0 for none. */
export function cpusValue(value: string): number {
  if (/^0+(\.0+)?m?$/.test(value.trim())) return 0;
  try {
    return parseCpus(value);
  } catch (e) {
    throw new InvalidArgumentError(`"${value}": ${(e as Error).message}`);
  }
}

/** Bytes of a size (256Mi, 512m, 1G), or 0 for none. */
export function memoryValue(value: string): number {
  try {
    return parseMemoryBytes(value);
  } catch (e) {
    throw new InvalidArgumentError(`"${value}": ${(e as Error).message}`);
  }
}

const HOSTNAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function hostnameValue(value: string): string {
  if (!HOSTNAME.test(value)) throw new InvalidArgumentError(`"${value}": expected an RFC 1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`);
  return value;
}
