/*
 * The state of the Create forms (docs/console.md, "Create") as plain strings and booleans, as the inputs
 * hold them, and each step's validation: `Errors` maps a field's key (also its input's id) to the
 * message shown under it. form-spec.ts turns a valid form into the spec sent to the server.
 */
import {
  absolutePathRule,
  commandRule,
  containerNameRule,
  envKeyRule,
  externalNameRule,
  imageRule,
  mountTargetRule,
  nameRule,
  nodePortRule,
  parallelismRule,
  parseLabels,
  portNameRule,
  portRule,
  replicasRule,
  secondsRule,
  timeoutRule,
  versionRule,
} from './form-rules.js';

/** Field key → message. Keys: `name`, `c0-image`, `c0-port1-name`, `timeout` … (also the inputs' ids). */
export type Errors = Record<string, string>;

export interface PortRow {
  name: string;
  protocol: 'TCP' | 'UDP';
  /** The container's port (stateless/stateful) or the target port (workloads: number or name). */
  containerPort: string;
  /** The service's port; empty = the container port. */
  servicePort: string;
  /** NodePort / LoadBalancer only; empty = allocated by the server. */
  nodePort: string;
}

export interface EnvRow {
  name: string;
  value: string;
}

export type ProbeKind = 'none' | 'http' | 'tcp' | 'exec';
export interface ProbeForm {
  kind: ProbeKind;
  path: string;
  /** Port number or a container port's name. */
  port: string;
  command: string;
  initialDelaySeconds: string;
  periodSeconds: string;
}

export interface ContainerForm {
  name: string;
  /** Run an image (Docker driver) or a command as a plain process. */
  runs: 'image' | 'command';
  image: string;
  command: string;
  args: string;
  workingDir: string;
  ports: PortRow[];
  env: EnvRow[];
  probe: ProbeForm;
  /** Stateful, image only: mount targets of per-slot volumes (`mounts: [{type: volume, target}]`). */
  volumes: string[];
}

export interface BasicForm {
  name: string;
  alias: string;
  version: string;
  description: string;
}

export interface AdvancedForm {
  replicas: string;
  access: 'vip' | 'headless';
  internet: 'None' | 'NodePort' | 'LoadBalancer';
  sticky: boolean;
  timeout: string;
  parallelism: string;
  order: 'stop-first' | 'start-first';
  failureAction: 'pause' | 'continue' | 'rollback';
  /** Extra labels, `key=value, …` (the version label is added from Basic information). */
  labels: string;
  /** Deploy at once (berth's create does not deploy unless asked; the console asks by default). */
  deploy: boolean;
}

export interface WorkloadForm {
  basic: BasicForm;
  containers: ContainerForm[];
  advanced: AdvancedForm;
}

export const emptyPort = (): PortRow => ({ name: '', protocol: 'TCP', containerPort: '', servicePort: '', nodePort: '' });
export const emptyContainer = (runs: 'image' | 'command' = 'command'): ContainerForm => ({
  name: '',
  runs,
  image: '',
  command: '',
  args: '',
  workingDir: '',
  ports: [],
  env: [],
  probe: { kind: 'none', path: '/', port: '', command: '', initialDelaySeconds: '0', periodSeconds: '10' },
  volumes: [],
});
export const emptyBasic = (): BasicForm => ({ name: '', alias: '', version: 'v1', description: '' });

/** A new stateless or stateful form: version `v1`, one replica, Virtual IP, no Internet access, sticky timeout 10800, deploy ticked. */
export function newWorkloadForm(): WorkloadForm {
  return {
    basic: emptyBasic(),
    containers: [],
    advanced: {
      replicas: '1',
      access: 'vip',
      internet: 'None',
      sticky: false,
      timeout: '10800',
      parallelism: '1',
      order: 'stop-first',
      failureAction: 'pause',
      labels: '',
      deploy: true,
    },
  };
}

function put(errors: Errors, key: string, message: string | undefined): void {
  if (message !== undefined) errors[key] = message;
}

/** Basic information: name (DNS-1035), version (lower-case letters and digits, ≤ 16). */
export function basicErrors(basic: BasicForm, options: { readonly version?: boolean } = {}): Errors {
  const errors: Errors = {};
  put(errors, 'name', nameRule(basic.name));
  if (options.version !== false) put(errors, 'version', versionRule(basic.version));
  return errors;
}

/** Port rows: valid numbers; names valid, required and unique when there is more than one port. */
export function portErrors(ports: readonly PortRow[], prefix: string): Errors {
  const errors: Errors = {};
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${prefix}port${i}`;
    const nameProblem = portNameRule(p.name) ?? (ports.length > 1 && p.name === '' ? 'Required when there is more than one port.' : undefined) ?? (p.name !== '' && seen.has(p.name) ? 'Port names must differ.' : undefined);
    put(errors, `${key}-name`, nameProblem);
    seen.add(p.name);
    put(errors, `${key}-container`, portRule(p.containerPort));
    if (p.servicePort !== '') put(errors, `${key}-service`, portRule(p.servicePort));
    put(errors, `${key}-node`, nodePortRule(p.nodePort));
  });
  return errors;
}

/** Containers: at least one; each an image or a command, valid ports, env names, probe. */
export function containersErrors(containers: readonly ContainerForm[]): Errors {
  const errors: Errors = {};
  if (containers.length === 0) errors['containers'] = 'Add at least one container.';
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const k = `c${i}-`;
    put(errors, `${k}name`, containerNameRule(c.name) ?? (containers.length > 1 && c.name === '' ? 'Required when there is more than one container.' : undefined) ?? (c.name !== '' && names.has(c.name) ? 'Container names must differ.' : undefined));
    names.add(c.name);
    if (c.runs === 'image') {
      put(errors, `${k}image`, imageRule(c.image));
      if (c.command.trim() !== '') put(errors, `${k}command`, commandRule(c.command));
    } else {
      put(errors, `${k}command`, commandRule(c.command));
    }
    if (c.args.trim() !== '') put(errors, `${k}args`, commandRule(c.args));
    if (c.workingDir !== '') put(errors, `${k}workingDir`, absolutePathRule(c.workingDir));
    Object.assign(errors, portErrors(c.ports, k));
    const envSeen = new Set<string>();
    c.env.forEach((e, j) => {
      put(errors, `${k}env${j}-name`, envKeyRule(e.name) ?? (envSeen.has(e.name) ? 'Defined twice.' : undefined));
      envSeen.add(e.name);
    });
    const p = c.probe;
    if (p.kind === 'http' && !p.path.startsWith('/')) errors[`${k}probe-path`] = 'Must start with /.';
    if (p.kind === 'http' || p.kind === 'tcp') put(errors, `${k}probe-port`, /^\d+$/.test(p.port.trim()) || p.port === '' ? portRule(p.port) : portNameRule(p.port));
    if (p.kind === 'exec') put(errors, `${k}probe-command`, commandRule(p.command));
    if (p.kind !== 'none') {
      put(errors, `${k}probe-delay`, secondsRule(p.initialDelaySeconds));
      put(errors, `${k}probe-period`, secondsRule(p.periodSeconds) ?? (p.periodSeconds.trim() === '0' ? 'Must be at least 1.' : undefined));
    }
  });
  if (containers.length > 1 && new Set(containers.map((c) => c.runs)).size > 1) {
    errors['containers'] = 'Either every container runs an image or none does (they share one sandbox).';
  }
  return errors;
}

/** Volumes (stateful): each target an absolute path other than `/`, unique per container. */
export function volumesErrors(containers: readonly ContainerForm[]): Errors {
  const errors: Errors = {};
  containers.forEach((c, i) => {
    const seen = new Set<string>();
    c.volumes.forEach((target, j) => {
      put(errors, `c${i}-vol${j}`, mountTargetRule(target) ?? (seen.has(target) ? 'One volume per path.' : undefined));
      seen.add(target);
    });
  });
  return errors;
}

/** Advanced settings: replicas, sticky timeout, parallelism, labels, node ports. */
export function advancedErrors(form: WorkloadForm): Errors {
  const a = form.advanced;
  const errors: Errors = {};
  put(errors, 'replicas', replicasRule(a.replicas));
  if (a.sticky) put(errors, 'timeout', timeoutRule(a.timeout));
  put(errors, 'parallelism', parallelismRule(a.parallelism));
  put(errors, 'labels', parseLabels(a.labels).error);
  if (a.internet !== 'None') {
    form.containers.forEach((c, i) => c.ports.forEach((p, j) => put(errors, `c${i}-port${j}-node`, nodePortRule(p.nodePort))));
    if (!form.containers.some((c) => c.ports.length > 0)) errors['internet'] = `${a.internet} needs at least one container port (add one under Containers).`;
    // Kubernetes: clusterIP None may not be set for LoadBalancer or NodePort services.
    if (a.access === 'headless') errors['internet'] = `A headless service has no virtual IP to expose: choose Virtual IP for ${a.internet}.`;
  }
  return errors;
}

/** The form of an External service (ExternalName). */
export interface ExternalForm {
  basic: BasicForm;
  externalName: string;
  ports: PortRow[];
}

export function externalErrors(form: ExternalForm): Errors {
  const errors = basicErrors(form.basic, { version: false });
  put(errors, 'externalName', externalNameRule(form.externalName));
  form.ports.forEach((p, i) => {
    put(errors, `port${i}-name`, portNameRule(p.name) ?? (form.ports.length > 1 && p.name === '' ? 'Required when there is more than one port.' : undefined));
    put(errors, `port${i}-container`, portRule(p.containerPort));
  });
  return errors;
}

/** The form of a service over existing instances (Specify workloads: a selector). */
export interface SelectorForm {
  basic: BasicForm;
  /** `key=value` pairs picked from the grid's services' labels. */
  selector: string[];
  ports: PortRow[];
  access: 'vip' | 'headless';
}

export function selectorErrors(form: SelectorForm): Errors {
  const errors = basicErrors(form.basic, { version: false });
  if (form.selector.length === 0) errors['selector'] = 'Pick at least one label: the service serves the instances of the services that carry all of them.';
  const keys = form.selector.map((s) => s.slice(0, s.indexOf('=')));
  if (new Set(keys).size < keys.length) errors['selector'] = 'Pick one value per label key (a selector needs all its labels to match).';
  // The target port is a number: a service without containers has no container port names to refer to.
  Object.assign(errors, portErrors(form.ports, ''));
  if (form.ports.length === 0) errors['ports'] = 'Add at least one port.';
  return errors;
}

/** The step a form field key belongs to. */
export type WorkloadStep = 'basic' | 'containers' | 'volumes' | 'advanced';

/**
 * Where a server cause of a stateless/stateful create belongs in the form: the API field path
 * (`spec.containers[0].ports[1].name`, `spec.ports[2].nodePort` …) → the form's field key and step,
 * or undefined for a field the form has no input for (the cause is then only listed). Service ports
 * are the container ports in order (form-spec.ts), so `spec.ports[k]` is the k-th of them.
 */
export function formFieldOfCause(field: string, form: WorkloadForm): { readonly key: string; readonly step: WorkloadStep } | undefined {
  const path = field.replace(/^spec\./, '');
  const container = /^containers\[(\d+)\](?:\.(\w+)(?:\[(\d+)\])?(?:\.(\w+))?)?/.exec(path);
  if (container) {
    const [, i, prop, j, sub] = container;
    const k = `c${i}-`;
    switch (prop) {
      case 'name':
      case 'image':
      case 'command':
      case 'args':
      case 'workingDir':
        return { key: `${k}${prop}`, step: 'containers' };
      case 'ports':
        return { key: `${k}port${j ?? 0}-${sub === 'name' ? 'name' : 'container'}`, step: 'containers' };
      case 'env':
        return { key: `${k}env${j ?? 0}-name`, step: 'containers' };
      case 'readinessProbe':
        return { key: `${k}probe-kind`, step: 'containers' };
      case 'mounts':
        return { key: `${k}vol${j ?? 0}`, step: 'volumes' };
      default:
        return { key: 'containers', step: 'containers' };
    }
  }
  const servicePort = /^ports\[(\d+)\](?:\.(\w+))?/.exec(path);
  if (servicePort) {
    const flat = form.containers.flatMap((c, ci) => c.ports.map((_, pj) => `c${ci}-port${pj}`));
    const base = flat[Number(servicePort[1])];
    if (!base) return undefined;
    const sub = servicePort[2];
    if (sub === 'nodePort') return { key: `${base}-node`, step: 'advanced' };
    if (sub === 'port') return { key: `${base}-service`, step: 'containers' };
    return { key: `${base}-${sub === 'name' ? 'name' : 'container'}`, step: 'containers' };
  }
  if (path === 'name') return { key: 'name', step: 'basic' };
  if (path === 'labels.version') return { key: 'version', step: 'basic' };
  if (path.startsWith('labels')) return { key: 'labels', step: 'advanced' };
  if (path === 'replicas' || path === 'instances') return { key: 'replicas', step: 'advanced' };
  if (path.startsWith('sessionAffinity')) return { key: 'timeout', step: 'advanced' };
  if (path.startsWith('updateConfig')) return { key: 'parallelism', step: 'advanced' };
  if (path === 'clusterIP') return { key: 'access', step: 'advanced' };
  if (path === 'type') return { key: 'internet', step: 'advanced' };
  if (path === 'containers') return { key: 'containers', step: 'containers' };
  return undefined;
}
