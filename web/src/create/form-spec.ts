/*
 * Create form → ServiceSpecInput (docs/console.md, "Create", "Field mapping"). Pure: called on a form that
 * passed its steps' validation (form-model.ts); the server validates the result again.
 */
import type { ServiceSpecInput } from '../../../src/model/index.js';
import type { BasicForm, ContainerForm, ExternalForm, PortRow, SelectorForm, WorkloadForm } from './form-model.js';
import { parseLabels, splitCommand } from './form-rules.js';

/** KubeSphere's alias: the display name (`berth.io/alias`, shown by the list and the detail page). */
export const ALIAS_ANNOTATION = 'berth.io/alias';
/** KubeSphere's description. */
export const DESCRIPTION_ANNOTATION = 'berth.io/description';

type ContainerInput = ServiceSpecInput['containers'][number];
type ServicePortInput = NonNullable<ServiceSpecInput['ports']>[number];

/** `annotations` for alias and description, or nothing when both are empty. */
function annotationsOf(basic: BasicForm): Pick<ServiceSpecInput, 'annotations'> {
  const annotations: Record<string, string> = {};
  if (basic.alias.trim()) annotations[ALIAS_ANNOTATION] = basic.alias.trim();
  if (basic.description.trim()) annotations[DESCRIPTION_ANNOTATION] = basic.description.trim();
  return Object.keys(annotations).length > 0 ? { annotations } : {};
}

const num = (v: string): number => Number(v.trim());
/** A port given as digits is a number; otherwise a port name. */
const portRef = (v: string): number | string => (/^\d+$/.test(v.trim()) ? num(v) : v.trim());

function containerOf(c: ContainerForm, stateful: boolean): ContainerInput {
  const command = splitCommand(c.command) ?? [];
  const args = splitCommand(c.args) ?? [];
  const probe = c.probe;
  const timing = { initialDelaySeconds: num(probe.initialDelaySeconds), periodSeconds: num(probe.periodSeconds) };
  const readinessProbe =
    probe.kind === 'http'
      ? { httpGet: { path: probe.path, port: portRef(probe.port) }, ...timing }
      : probe.kind === 'tcp'
        ? { tcpSocket: { port: portRef(probe.port) }, ...timing }
        : probe.kind === 'exec'
          ? { exec: { command: splitCommand(probe.command) ?? [] }, ...timing }
          : undefined;
  return {
    ...(c.name ? { name: c.name } : {}),
    ...(c.runs === 'image' ? { image: c.image.trim() } : {}),
    ...(command.length > 0 ? { command } : {}),
    ...(args.length > 0 ? { args } : {}),
    ...(c.workingDir ? { workingDir: c.workingDir } : {}),
    ...(c.ports.length > 0
      ? { ports: c.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: num(p.containerPort), protocol: p.protocol })) }
      : {}),
    ...(c.env.length > 0 ? { env: c.env.map((e) => ({ name: e.name, value: e.value })) } : {}),
    ...(readinessProbe ? { readinessProbe } : {}),
    // Per-slot volumes: a volume mount without a source is the slot's own in a stateful service (docs/spec.md).
    ...(stateful && c.runs === 'image' && c.volumes.length > 0 ? { mounts: c.volumes.map((target) => ({ type: 'volume' as const, target })) } : {}),
  };
}

/** A service port from a port row: port = service port or the container port; node port when exposed. */
function servicePortOf(p: PortRow, exposed: boolean): ServicePortInput {
  return {
    ...(p.name ? { name: p.name } : {}),
    protocol: p.protocol,
    port: num(p.servicePort || p.containerPort),
    targetPort: portRef(p.containerPort),
    ...(exposed && p.nodePort.trim() ? { nodePort: num(p.nodePort) } : {}),
  };
}

/**
 * A stateless or stateful service: name, labels (`version` + extra), annotations (alias, description),
 * replicas, stateful, containers, the network face (ports from the container ports, clusterIP `None`
 * for Headless, type NodePort/LoadBalancer for Internet access, sessionAffinity ClientIP with its
 * timeout for Sticky Session) and updateConfig (parallelism, order, failureAction).
 */
export function workloadSpec(form: WorkloadForm, kind: 'stateless' | 'stateful'): ServiceSpecInput {
  const a = form.advanced;
  const internet = a.internet;
  const exposed = internet !== 'None';
  const ports = form.containers.flatMap((c) => c.ports.map((p) => servicePortOf(p, exposed)));
  return {
    name: form.basic.name,
    labels: { ...parseLabels(a.labels).labels, version: form.basic.version },
    ...annotationsOf(form.basic),
    replicas: num(a.replicas),
    ...(kind === 'stateful' ? { stateful: true } : {}),
    containers: form.containers.map((c) => containerOf(c, kind === 'stateful')),
    ...(ports.length > 0 ? { ports } : {}),
    ...(a.access === 'headless' ? { clusterIP: 'None' } : {}),
    ...(internet !== 'None' ? { type: internet } : {}),
    ...(a.sticky ? { sessionAffinity: 'ClientIP' as const, sessionAffinityConfig: { clientIP: { timeoutSeconds: num(a.timeout) } } } : {}),
    updateConfig: { parallelism: num(a.parallelism), order: a.order, failureAction: a.failureAction },
  };
}

/** An External service: type ExternalName, externalName, ports; no containers. */
export function externalSpec(form: ExternalForm): ServiceSpecInput {
  return {
    name: form.basic.name,
    ...annotationsOf(form.basic),
    type: 'ExternalName',
    externalName: form.externalName.trim(),
    containers: [],
    ...(form.ports.length > 0 ? { ports: form.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), protocol: p.protocol, port: num(p.containerPort) })) } : {}),
  };
}

/** A service over existing instances: selector (the picked `key=value` labels), ports, no containers. */
export function selectorSpec(form: SelectorForm): ServiceSpecInput {
  const selector: Record<string, string> = {};
  for (const pair of form.selector) {
    const eq = pair.indexOf('=');
    selector[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    name: form.basic.name,
    ...annotationsOf(form.basic),
    containers: [],
    selector,
    ports: form.ports.map((p) => servicePortOf(p, false)),
    ...(form.access === 'headless' ? { clusterIP: 'None' } : {}),
  };
}
