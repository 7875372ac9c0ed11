import type { z } from 'zod';
import { DNS1035_MESSAGE, IPV4, STOP_SIGNALS } from './names.js';
import { SpecInvalidError } from './errors.js';
import { containerImageErrors } from './container-rules.js';
import { externalIpProblem } from './external-address.js';
import type { FieldError } from './field-error.js';
import type { SpecLimits } from './limits.js';
import { DEFAULT_SPEC_LIMITS, LIMITS } from './limits.js';
import { specLimitErrors } from './spec-limit-errors.js';
import type { ParsedServiceSpec, ServiceSpec } from './service-spec.js';
import { ServiceSpecSchema } from './service-spec.js';
import type { Probe } from './probe.js';
import { probesFromHealthcheck } from './probe.js';
import { isEmptyPlacement } from './placement.js';

export interface ParseSpecOptions {
  /** The path prefix of the spec in error messages (default `spec`). */
  readonly root?: string;
  /** The server's limits (default DEFAULT_SPEC_LIMITS: 1000 replicas per service). */
  readonly limits?: SpecLimits;
}

/**
 * Validates and normalizes a service spec. Returns the fully defaulted spec.
 * @param input    anything (parsed JSON or YAML)
 * @param options  the root of field paths (or that root alone, as a string) and the server's limits
 * @throws SpecInvalidError listing every offending field, e.g. `spec.ports[1].name: Required value`,
 *   or `spec.replicas: Invalid value: 5000: must be an integer from 0 to 1000 (…)` past a limit of
 *   model/limits.ts.
 */
export function parseServiceSpec(input: unknown, options: ParseSpecOptions | string = {}): ServiceSpec {
  const { root = 'spec', limits = DEFAULT_SPEC_LIMITS } = typeof options === 'string' ? { root: options } : options;
  const result = ServiceSpecSchema.safeParse(withoutContainers(input), { reportInput: true });
  const name = typeof (input as { name?: unknown })?.name === 'string' ? (input as { name: string }).name : undefined;
  if (!result.success) {
    throw new SpecInvalidError('Service', name, dedupe(result.error.issues.flatMap((i) => toFieldErrors(i, root))));
  }
  const { replicasGiven: _rg, instancesAndReplicas: _ib, instancesGiven: _ig, ...parsed } = result.data;
  const errors = [...crossFieldErrors(result.data, root), ...specLimitErrors(parsed, limits, root).map((e) => replicasAsGiven(e, result.data, root))];
  if (errors.length > 0) throw new SpecInvalidError('Service', name, errors);
  const spec = parsed;
  // An empty placement is no placement: a spec sent with `placement: {}` and one without compare equal.
  if (spec.placement !== undefined && isEmptyPlacement(spec.placement)) delete spec.placement;
  spec.containers = spec.containers.map((c) => {
    const defaulted = c.image !== undefined && c.imagePullPolicy === undefined ? { ...c, imagePullPolicy: 'IfNotPresent' as const } : c;
    const named = defaulted.name ? defaulted : { name: spec.name, ...defaulted };
    const trimmed = withoutEmptyContainerFields(named);
    if (!trimmed.healthcheck) return trimmed;
    // Docker's healthcheck is stored as the probes it stands for (checked in crossFieldErrors).
    const { healthcheck, ...rest } = trimmed;
    const probes = probesFromHealthcheck(healthcheck);
    return probes ? { ...rest, ...probes } : rest;
  });
  return spec;
}

/** Checks that need several fields at once (uniqueness, mode rules, multi-port names). */
function crossFieldErrors(spec: ParsedServiceSpec, root: string): FieldError[] {
  const errors: FieldError[] = [];
  const at = (path: string): string => `${root}.${path}`;

  if (spec.instancesAndReplicas) {
    errors.push({ field: at('instances'), type: 'Forbidden', detail: 'give either replicas or instances (Kontena\'s name for it), not both' });
  }
  if (spec.mode === 'global' && spec.replicasGiven) {
    errors.push({ field: at('replicas'), type: 'Forbidden', detail: "may not be set when mode is 'global' (one instance runs on every node)" });
  }
  if (spec.mode === 'global' && spec.stateful) {
    errors.push({ field: at('stateful'), type: 'Forbidden', detail: "may not be used when mode is 'global'" });
  }
  if (spec.placement?.moveStatefulSlots === true && !spec.stateful) {
    errors.push({ field: at('placement.moveStatefulSlots'), type: 'Forbidden', detail: 'applies to stateful services only (a stateless instance is replaced on another node anyway); set stateful: true, or remove it' });
  }

  if (spec.containers.length === 0 && spec.type !== 'ExternalName' && spec.endpoints === undefined && spec.selector === undefined) {
    errors.push({ field: at('containers'), type: 'Required value', detail: 'a service runs at least one container, unless it is an ExternalName service, selects other services\' instances (selector) or lists its endpoints by hand (endpoints: ["ip:port"])' });
  }
  if (spec.selector !== undefined && spec.containers.length > 0) {
    errors.push({ field: at('selector'), type: 'Forbidden', detail: 'a service with containers serves its own instances; a selector is for a service without containers' });
  }
  if (spec.selector !== undefined && spec.endpoints !== undefined) {
    errors.push({ field: at('endpoints'), type: 'Forbidden', detail: 'give a selector or hand-set endpoints, not both' });
  }
  if (spec.endpoints !== undefined && spec.containers.length > 0) {
    errors.push({ field: at('endpoints'), type: 'Forbidden', detail: 'hand-set endpoints are for a service without containers; a service with containers is served by its own instances' });
  }
  (spec.endpoints ?? []).forEach((e, i) => {
    const [ip, port] = e.split(':');
    if (!IPV4.test(ip ?? '') || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
      errors.push({ field: at(`endpoints[${i}]`), type: 'Invalid value', value: e, detail: 'must be "ip:port" or "ip" with an IPv4 address and a port of 1-65535' });
    }
  });
  const containerNames = new Map<string, number>();
  spec.containers.forEach((c, i) => {
    if (!c.name && spec.containers.length > 1) {
      errors.push({ field: at(`containers[${i}].name`), type: 'Required value', detail: 'every container needs a name when there is more than one' });
    }
    if (c.name) {
      if (containerNames.has(c.name)) errors.push({ field: at(`containers[${i}].name`), type: 'Duplicate value', value: c.name });
      containerNames.set(c.name, i);
    }
    if (!c.image && !c.command) {
      errors.push({ field: at(`containers[${i}].command`), type: 'Required value', detail: 'a process container needs a command (or give an image to run it with the docker driver)' });
    }
    errors.push(...probeErrors(c, at(`containers[${i}]`)));
    const portNames = new Set<string>();
    const portKeys = new Set<string>();
    c.ports.forEach((p, j) => {
      if (p.name) {
        if (portNames.has(p.name)) errors.push({ field: at(`containers[${i}].ports[${j}].name`), type: 'Duplicate value', value: p.name });
        portNames.add(p.name);
      }
      const key = `${p.containerPort}/${p.protocol}`;
      if (portKeys.has(key)) errors.push({ field: at(`containers[${i}].ports[${j}].containerPort`), type: 'Duplicate value', value: p.containerPort });
      portKeys.add(key);
    });
  });

  errors.push(...containerImageErrors(spec, at));

  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== 'None' && !IPV4.test(spec.clusterIP)) {
    errors.push({ field: at('clusterIP'), type: 'Invalid value', value: spec.clusterIP, detail: 'must be empty (allocate one), "None" (headless) or an IPv4 address in the service range' });
  }
  if (spec.clusterIP === 'None' && (spec.type === 'NodePort' || spec.type === 'LoadBalancer')) {
    errors.push({ field: at('clusterIP'), type: 'Invalid value', value: 'None', detail: `may not be set to 'None' for LoadBalancer or NodePort services` });
  }
  spec.externalIPs.forEach((ip, i) => {
    const problem = IPV4.test(ip) ? externalIpProblem(ip) : undefined;
    if (problem) errors.push({ field: at(`externalIPs[${i}]`), type: 'Invalid value', value: ip, detail: problem });
  });
  if (spec.type === 'ExternalName' && !spec.externalName) {
    errors.push({ field: at('externalName'), type: 'Required value', detail: 'an ExternalName service names the DNS name it is an alias of, e.g. db.example.org' });
  }
  if (spec.sessionAffinityConfig !== undefined && spec.sessionAffinity === 'None') {
    errors.push({ field: at('sessionAffinityConfig'), type: 'Forbidden', detail: 'must not be set when sessionAffinity is None' });
  }
  const portNames = new Set<string>();
  const portKeys = new Set<string>();
  // A published port asked for twice (or also as a node port) is the store's to refuse, as two node
  // ports are: 422 PORT_ALLOCATED (model/host-listeners.ts, hostListenerConflicts).
  spec.ports.forEach((p, i) => {
    if (p.published !== undefined && spec.type === 'ExternalName') {
      errors.push({ field: at(`ports[${i}].published`), type: 'Forbidden', detail: "may not be used when `type` is 'ExternalName' (an ExternalName service is a DNS alias: nothing is served)" });
    }
    if (spec.ports.length > 1 && !p.name) errors.push({ field: at(`ports[${i}].name`), type: 'Required value' });
    if (p.name) {
      if (portNames.has(p.name)) errors.push({ field: at(`ports[${i}].name`), type: 'Duplicate value', value: p.name });
      portNames.add(p.name);
    }
    const key = `${p.port}/${p.protocol}`;
    if (portKeys.has(key)) errors.push({ field: at(`ports[${i}]`), type: 'Duplicate value', value: { port: p.port, protocol: p.protocol } });
    portKeys.add(key);
    if (p.nodePort !== undefined && spec.type === 'ClusterIP') {
      errors.push({ field: at(`ports[${i}].nodePort`), type: 'Forbidden', detail: "may not be used when `type` is 'ClusterIP'" });
    } else if (p.nodePort !== undefined && (p.nodePort < 1 || p.nodePort > 65535)) {
      // Which ports are node ports is the server's node-port range (BERTH_NODE_PORT_RANGE, or a range
      // moved aside for another berth on the machine): the allocator checks it (api/network-allocation.ts).
      errors.push({ field: at(`ports[${i}].nodePort`), type: 'Invalid value', value: p.nodePort, detail: 'must be a port number from 1 to 65535, inside the server\'s node-port range (30000-32767 unless BERTH_NODE_PORT_RANGE says otherwise), or left out to have one allocated' });
    }
    // With a selector, a name refers to the selected instances' container ports (Kubernetes' named
    // targetPort): each instance resolves it (deriveEndpoints), and one without it serves no endpoint.
    if (typeof p.targetPort === 'string' && spec.selector === undefined) {
      const named = spec.containers.some((c) => c.ports.some((cp) => cp.name === p.targetPort));
      if (!named) errors.push({ field: at(`ports[${i}].targetPort`), type: 'Invalid value', value: p.targetPort, detail: 'names no container port; name one of the containers\' ports or give a number' });
    }
  });
  return errors;
}

type NormalizedContainer = ServiceSpec['containers'][number];

/**
 * Labels, mounts and resources are absent rather than empty (`labels: {}`, `mounts: []`,
 * `resources: { limits: {} }`), so a spec stored before these fields existed and the same spec sent
 * again compare equal, and `show -o yaml` of a process container shows none of them.
 */
function withoutEmptyContainerFields(c: NormalizedContainer): NormalizedContainer {
  const out: { -readonly [K in keyof NormalizedContainer]: NormalizedContainer[K] } = { ...c };
  if (out.labels !== undefined && Object.keys(out.labels).length === 0) delete out.labels;
  if (out.mounts !== undefined && out.mounts.length === 0) delete out.mounts;
  if (out.resources !== undefined) {
    const resources = { ...out.resources };
    if (resources.limits !== undefined && Object.keys(resources.limits).length === 0) delete resources.limits;
    if (resources.reservations !== undefined && Object.keys(resources.reservations).length === 0) delete resources.reservations;
    if (Object.keys(resources).length === 0) delete out.resources;
    else out.resources = resources;
  }
  return out;
}

/** Probe rules that need the container: named ports exist, thresholds, healthcheck vs probes. */
function probeErrors(c: ParsedServiceSpec['containers'][number], path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (c.healthcheck) {
    if (c.readinessProbe || c.livenessProbe) {
      errors.push({ field: `${path}.healthcheck`, type: 'Forbidden', detail: 'give Docker\'s healthcheck or readinessProbe/livenessProbe, not both' });
    }
    try {
      probesFromHealthcheck(c.healthcheck);
    } catch (error) {
      errors.push({ field: `${path}.healthcheck.test`, type: 'Invalid value', value: c.healthcheck.test, detail: (error as Error).message });
    }
  }
  const probes: [string, Probe | undefined][] = [['readinessProbe', c.readinessProbe], ['livenessProbe', c.livenessProbe], ['startupProbe', c.startupProbe]];
  for (const [kind, probe] of probes) {
    if (!probe) continue;
    if (kind !== 'readinessProbe' && probe.successThreshold !== 1) {
      errors.push({ field: `${path}.${kind}.successThreshold`, type: 'Invalid value', value: probe.successThreshold, detail: 'must be 1' });
    }
    const handler = probe.httpGet ? 'httpGet' : probe.tcpSocket ? 'tcpSocket' : undefined;
    const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
    if (handler && typeof port === 'string' && !c.ports.some((p) => p.name === port)) {
      errors.push({ field: `${path}.${kind}.${handler}.port`, type: 'Invalid value', value: port, detail: 'names no port of this container; name one of its ports or give a number' });
    }
  }
  return errors;
}

/** A replica limit is reported on the field the user wrote: `instances` when that was Kontena's spelling. */
function replicasAsGiven(e: FieldError, spec: ParsedServiceSpec, root: string): FieldError {
  return e.field === `${root}.replicas` && spec.instancesGiven ? { ...e, field: `${root}.instances` } : e;
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}|${e.type}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Turns a zod issue into Kubernetes-style field errors (one per unknown key) with a hint on how to fix each. */
function toFieldErrors(issue: z.core.$ZodIssue, root: string): FieldError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      field: formatPath(root, [...issue.path, key]),
      type: 'Unknown field',
      detail: `berth has no field "${key}" here; check the spelling (docs/spec.md lists every field)`,
    }));
  }
  return [toFieldError(issue, root)];
}

function toFieldError(issue: z.core.$ZodIssue, root: string): FieldError {
  const field = formatPath(root, issue.path);
  const last = issue.path[issue.path.length - 1];
  const parent = issue.path[issue.path.length - 2];
  const input = (issue as { input?: unknown }).input;
  const custom = (issue as { params?: { type?: FieldError['type'] } }).params?.type;
  if (custom) return { field, type: custom, value: input, detail: issue.message };

  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return { field, type: 'Required value' };
      return { field, type: 'Invalid value', value: input, detail: `must be ${article(issue.expected)}` };
    case 'invalid_value':
      if (last === 'stopSignal') return { field, type: 'Unsupported value', value: input, detail: 'must be a signal name such as SIGTERM, SIGINT, SIGQUIT or SIGUSR1' };
      return {
        field,
        type: 'Unsupported value',
        value: input,
        detail: `supported values: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'invalid_key':
      // A record key (only labels have free keys); the value shown is the key itself.
      return { field, type: 'Invalid value', value: last, detail: LABEL_KEY_HINT };
    case 'invalid_format':
      if (parent === 'labels') return { field, type: 'Invalid value', value: input, detail: LABEL_VALUE_HINT };
      if (last === 'targetPort') return { field, type: 'Invalid value', value: input, detail: `must be a port number (1-65535) or the name of a container port: ${PORT_NAME_HINT}` };
      if (last === 'hostname') return { field, type: 'Invalid value', value: input, detail: issue.message };
      if (issue.format === 'regex' && typeof last === 'string' && /name$/i.test(last)) {
        return { field, type: 'Invalid value', value: input, detail: nameHint(issue.path) };
      }
      if (issue.format === 'starts_with') return { field, type: 'Invalid value', value: input, detail: 'must be an absolute path (start with /)' };
      return { field, type: 'Invalid value', value: input, detail: issue.message };
    case 'too_big':
      if (issue.origin === 'string') return { field, type: 'Too long', value: shorten(input), detail: `must be no more than ${String(issue.maximum)} characters` };
      if (issue.origin === 'array') return { field, type: 'Too many', value: Array.isArray(input) ? input.length : undefined, detail: `must have at most ${String(issue.maximum)} items` };
      return { field, type: 'Invalid value', value: input, detail: `must be less than or equal to ${String(issue.maximum)}` };
    case 'too_small':
      if (issue.origin === 'array') return { field, type: 'Required value', detail: `needs at least ${String(issue.minimum)} item(s)` };
      if (issue.origin === 'string') return { field, type: 'Required value', detail: 'must not be empty' };
      return { field, type: 'Invalid value', value: input, detail: `must be greater than or equal to ${String(issue.minimum)}` };
    case 'invalid_union':
      return { field, type: 'Invalid value', value: input, detail: unionHint(issue.path) };
    default:
      return { field, type: 'Invalid value', value: input, detail: issue.message };
  }
}

/** A long value is shown by its start and length: an error must not echo a megabyte back. */
function shorten(value: unknown): unknown {
  if (typeof value !== 'string' || value.length <= 64) return value;
  return `${value.slice(0, 32)}… (${value.length} characters)`;
}

const PORT_NAME_HINT = "a port name must be no more than 15 characters, lower case alphanumeric or '-', and start and end with an alphanumeric character (e.g. 'http')";
const LABEL_KEY_HINT =
  "a label key must be a name of at most 63 characters (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric), optionally after a DNS subdomain prefix and '/' (e.g. 'tier' or 'example.com/tier')";
const LABEL_VALUE_HINT =
  "a label value must be empty or at most 63 characters (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric), e.g. 'frontend' or 'v1.2'";

function nameHint(path: readonly PropertyKey[]): string {
  if (path.includes('ports')) return PORT_NAME_HINT;
  if (path.includes('env')) return "an environment variable name must consist of letters, digits, '_', '-' or '.', and must not start with a digit";
  return DNS1035_MESSAGE;
}

function unionHint(path: readonly PropertyKey[]): string {
  const last = path[path.length - 1];
  if (last === 'targetPort') return 'must be a port number (1-65535) or the name of a container port';
  if (last === 'test') return `must be a shell command, or a list such as ["CMD", "curl", "-f", "http://localhost/"] of at most ${LIMITS.argv} items of at most ${LIMITS.argLength} characters`;
  if (last === 'port') return 'must be a port number (1-65535) or the name of a container port';
  return 'must be a duration such as 500ms, 5s or 1m30s, or a number of seconds';
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** `spec.containers[0].env[1].name`; keys that are not identifiers in brackets: `spec.labels["example.com/tier"]`. */
function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][\w$]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

export { STOP_SIGNALS };

/**
 * A spec that names no `containers` but is a service without any (a selector, hand-set endpoints, an
 * ExternalName: a Kubernetes Service, which has no containers field) gets `containers: []`, so that
 * such a manifest needs no empty list to be valid. Anything else is returned as it is.
 */
function withoutContainers(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || 'containers' in input) return input;
  const i = input as { selector?: unknown; endpoints?: unknown; type?: unknown };
  return i.selector !== undefined || i.endpoints !== undefined || i.type === 'ExternalName' ? { ...input, containers: [] } : input;
}
