import { Command } from 'commander';
import { isApiError } from '../client/index.js';
import type { ExplainedService } from '../client/index.js';
import type { ContainerSpec, DeployState, Instance, Probe, ServiceEndpoints, ServiceSpec, UpdateConfig } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { deployStateOf } from './deploy-state-view.js';
import { formatAge } from './format-age.js';
import { formatMemoryBytes } from '../lib/index.js';
import { colourHealth, colourState, drainOf, healthOf, isTerminalState, latestPerSlot } from './instance-state-view.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { splitEndpoints } from './endpoint-addresses.js';
import { describeListener } from './listener-lines.js';
import type { Palette } from './palette.js';

/** `berth service show NAME`: the service and its instances (Kontena's `service show`). */
export function serviceShowCommand(deps: CliDeps): Command {
  return new Command('show')
    .description('show a service: its spec, network face and endpoints, deployment and instances')
    .argument('<name>', 'service name')
    .addOption(outputOption())
    .action(async (name: string, flags: { readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const service = await ctx.client.getService(ctx.grid, name);
      if (flags.output !== 'table') {
        ctx.stdout.write(formatStructured(service, flags.output));
        return;
      }
      const [instances, endpoints] = await Promise.all([ctx.client.listInstances(ctx.grid, name, { active: true }), readEndpoints(ctx, name)]);
      ctx.out(renderServiceDetails(service, instances, { now: ctx.now(), palette: ctx.palette, deployHint: ctx.commandHint(`service deploy ${name}`), whyHint: ctx.commandHint(`service why ${name}`), endpoints }));
    });
}

/** The human view: an indented, YAML-like outline, as Kontena prints it. */
export function renderServiceDetails(
  service: ExplainedService,
  instances: readonly Instance[],
  options: {
    readonly now: number;
    readonly palette: Palette;
    readonly deployHint: string;
    /** `berth service why web`, shown when the explanation's verdict is not healthy. */
    readonly whyHint?: string;
    /** From the endpoints route; undefined when the server has none (shown as "unknown"). */
    readonly endpoints?: ServiceEndpoints | undefined;
  },
): string {
  const c = options.palette;
  const { spec, status, deployment } = service;
  const lines: string[] = [`${c.bold(service.name)}:`];
  const field = (label: string, value: string, indent = 2): void => {
    lines.push(`${' '.repeat(indent)}${label}: ${value}`);
  };
  field('grid', service.grid);
  field('state', `${colourState(status.phase, c)} (${status.runningInstances}/${status.desiredInstances} instances running)${status.message ? ` — ${status.message}` : ''}`);
  if (service.desired !== 'running') field('desired', service.desired);
  field('generation', `${service.generation} (version ${service.version})`);
  const rolledBack = deployment?.rollbackTo !== undefined ? ` (${deployment.cause === 'auto-rollback' ? 'automatic rollback' : 'rollback'} to ${deployment.rollbackTo})` : '';
  const deployState = deployStateOf(service);
  field('deployed generation', deployedGenerationText(service, deployState, rolledBack, options));
  const update = status.update;
  if (update) {
    const done = update.state === 'completed' || update.state === 'rollback_completed';
    // Completed with failures (failureAction continue): not all slots updated.
    const colour = update.state === 'paused' || update.state === 'rollback_paused' ? c.red : done && update.updatedInstances >= update.totalInstances ? c.green : c.yellow;
    field('update', `${colour(update.state)} (${update.updatedInstances}/${update.totalInstances} updated)${update.message ? ` — ${update.message}` : ''}`);
  }
  if (deployment) field('health', healthSummary(instances, status.desiredInstances, c));
  const explanation = service.explanation;
  if (explanation && explanation.verdict !== 'healthy' && explanation.verdict !== 'not_deployed') {
    field('why', `${explanation.summary}${options.whyHint ? c.dim(` (\`${options.whyHint}\` for the evidence)`) : ''}`);
  }
  lines.push(...conditionLines(service, options.now, c));
  field('mode', spec.mode);
  if (spec.mode === 'replicated') field('replicas', String(spec.replicas));
  field('stateful', spec.stateful ? 'yes' : 'no');
  field('created', `${service.createdAt} (${formatAge(service.createdAt, options.now)} ago)`);
  if (Object.keys(spec.labels).length > 0) {
    lines.push('  labels:');
    for (const [k, v] of Object.entries(spec.labels)) lines.push(`    - ${k}=${v}`);
  }
  lines.push(...networkLines(spec, options.endpoints));
  lines.push('  containers:');
  for (const container of spec.containers) lines.push(...containerLines(container));
  const r = spec.restartPolicy;
  field('restart policy', `${r.condition}, delay ${r.delay}, max attempts ${r.maxAttempts === 0 ? 'unlimited' : r.maxAttempts}${r.window === '0s' ? '' : ` in ${r.window}`}`);
  field('update config', describeUpdateConfig(spec.updateConfig));
  field('rollback config', describeUpdateConfig(spec.rollbackConfig));
  field('drain timeout', spec.drainTimeout);
  const current = latestPerSlot(instances);
  if (current.length === 0) {
    field('instances', deployState.kind === 'network-only' ? 'none (no containers)' : deployment ? 'none' : `none (not deployed: run \`${options.deployHint}\`)`);
  } else {
    lines.push('  instances:');
    for (const i of current) {
      lines.push(`    ${service.name}-${i.slot}:`);
      field('id', i.id, 6);
      field('state', `${colourState(i.status.state, c)}${i.desiredState === 'running' ? '' : ` (desired ${i.desiredState})`}${i.status.message ? ` — ${i.status.message}` : ''}`, 6);
      field('generation', String(i.generation), 6);
      field('address', i.spec.address, 6);
      field('node', i.node, 6);
      const health = healthOf(i);
      if (health && !isTerminalState(i.status.state)) field('health', colourHealth(health, c), 6);
      for (const p of i.status.health?.probes ?? []) {
        if (p.result === 'failure') field(`${p.kind} probe`, `${c.red('failing')} ${p.target} (${p.consecutiveFailures}×): ${p.lastOutput}`, 6);
      }
      const drain = drainOf(i);
      if (drain) field('drain', drain, 6);
      field('restarts', String(i.restarts), 6);
      if (i.status.startedAt) field('started', `${i.status.startedAt} (${formatAge(i.status.startedAt, options.now)} ago)`, 6);
      if (i.status.finishedAt) field('finished', `${i.status.finishedAt}${i.status.exitCode === undefined ? '' : `, exit code ${i.status.exitCode}`}`, 6);
    }
  }
  return lines.join('\n');
}

/**
 * The data plane's conditions (Kubernetes' status.conditions): `ListenersOpen: False (EADDRINUSE) for
 * 12s — …` with one line per listener that is not open, or `ListenersOpen: True for 3m`.
 */
function conditionLines(service: ExplainedService, now: number, c: Palette): string[] {
  const conditions = service.status.conditions ?? [];
  if (conditions.length === 0) return [];
  const lines = ['  conditions:'];
  for (const k of conditions) {
    const status = k.status === 'True' ? c.green('True') : c.red('False');
    const reason = k.status === 'True' ? '' : ` (${k.reason})`;
    lines.push(`    ${k.type}: ${status}${reason} for ${formatAge(k.lastTransitionTime, now)} — ${k.message}`);
    for (const l of k.listeners ?? []) lines.push(`      - ${describeListener(l)}, since ${formatAge(l.since, now)} ago`);
  }
  return lines;
}

/**
 * `3, requested 2m ago` — and what the spec's later generations did: `; generation 5 changed only
 * what is in effect at once (network, labels)`, or `; generation 5 not deployed (containers, replicas
 * changed): run \`berth service deploy web\``. A service without containers has nothing to deploy.
 */
function deployedGenerationText(service: ExplainedService, state: DeployState, rolledBack: string, options: { readonly now: number; readonly deployHint: string }): string {
  const deployment = service.deployment;
  if (state.kind === 'network-only') return '- (no containers: the network face is in effect as stored, nothing to deploy)';
  if (!deployment) return 'none (not deployed)';
  const head = `${deployment.generation}${rolledBack}, requested ${formatAge(deployment.requestedAt, options.now)} ago`;
  if (state.kind === 'behind') return `${head}; generation ${service.generation} not deployed (${state.fields.join(', ')} changed): run \`${options.deployHint}\``;
  if (deployment.generation !== service.generation) return `${head}; generation ${service.generation} changed only what is in effect at once (network, labels)`;
  return head;
}

/** The endpoints, or undefined when the server predates the endpoints route (404 for the route, not the service). */
async function readEndpoints(ctx: CliContext, name: string): Promise<ServiceEndpoints | undefined> {
  try {
    return await ctx.client.endpoints(ctx.grid, name);
  } catch (e) {
    if (isApiError(e) && e.status === 404 && e.code !== 'SERVICE_NOT_FOUND') return undefined;
    throw e;
  }
}

/**
 * The network section: type, VIP (or headless, or the ExternalName target), ports with target and node
 * ports, external and load-balancer addresses, session affinity, then the ready and not-ready endpoints.
 */
export function networkLines(spec: ServiceSpec, endpoints: ServiceEndpoints | undefined): string[] {
  const lines = ['  network:'];
  const field = (label: string, value: string): void => {
    lines.push(`    ${label}: ${value}`);
  };
  field('type', spec.type);
  if (spec.type === 'ExternalName') field('external name', `${spec.externalName ?? '<none>'} (DNS answers with a CNAME)`);
  else if (spec.clusterIP === 'None') field('virtual IP', 'none (headless: DNS answers with the instance addresses)');
  else field('virtual IP', spec.clusterIP || endpoints?.clusterIP || '<not allocated yet>');
  if (spec.ports.length === 0) {
    field('ports', '<none>');
  } else {
    lines.push('    ports:');
    for (const p of spec.ports) {
      const node = p.nodePort ?? endpoints?.ports.find((e) => e.port === p.port && e.protocol === p.protocol)?.nodePort;
      const published = p.published ?? endpoints?.ports.find((e) => e.port === p.port && e.protocol === p.protocol)?.published;
      const onNode = [node === undefined ? '' : `node port ${node}`, published === undefined ? '' : `published on the node at ${published}`].filter((x) => x !== '').join(', ');
      lines.push(`      - ${p.name ? `${p.name}: ` : ''}${p.port} → ${p.targetPort}/${p.protocol.toLowerCase()}${onNode === '' ? '' : ` (${onNode})`}`);
    }
  }
  if (spec.externalIPs.length > 0) field('external IPs', spec.externalIPs.join(', '));
  if (spec.type === 'LoadBalancer') {
    const ingress = endpoints?.loadBalancerIPs ?? [];
    field('load balancer', ingress.length > 0 ? ingress.join(', ') : '<pending>');
  }
  const timeout = spec.sessionAffinityConfig?.clientIP.timeoutSeconds ?? 10_800;
  field('session affinity', spec.sessionAffinity === 'ClientIP' ? `ClientIP (timeout ${timeout}s)` : 'None');
  if (spec.publishNotReadyAddresses) field('publish not-ready addresses', 'yes');
  if (spec.type === 'ExternalName') return lines;
  if (!endpoints) {
    field('endpoints', 'unknown (the server has no endpoints route)');
    return lines;
  }
  const { ready, notReady } = splitEndpoints(endpoints);
  field('endpoints', ready.length > 0 ? ready.join(', ') : '<none>');
  if (notReady.length > 0) field('not ready', notReady.join(', '));
  return lines;
}

function containerLines(container: ContainerSpec): string[] {
  const lines = [`    ${container.name ?? '(unnamed)'}:`];
  const field = (label: string, value: string): void => {
    lines.push(`      ${label}: ${value}`);
  };
  field('image', container.image ? `${container.image}${container.imagePullPolicy ? ` (pull: ${container.imagePullPolicy})` : ''}` : '- (runs as a process)');
  const argv = [...(container.command ?? []), ...container.args];
  field('command', argv.length > 0 ? argv.map(quoteWord).join(' ') : '- (the image default)');
  if (container.workingDir) field('working dir', container.workingDir);
  if (container.user) field('user', container.user);
  if (container.hostname) field('hostname', container.hostname);
  const labels = Object.entries(container.labels ?? {});
  if (labels.length > 0) field('labels', labels.map(([k, v]) => `${k}=${v}`).join(', '));
  for (const m of container.mounts ?? []) field('mount', describeMount(m));
  const { limits, reservations } = container.resources ?? {};
  if (limits) field('limits', describeResources(limits));
  if (reservations) field('reservations', describeResources(reservations));
  if (container.env.length > 0) {
    lines.push('      env:');
    for (const e of container.env) lines.push(`        - ${e.name}=${'value' in e ? e.value : `<secret ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}>`}`);
  }
  if (container.ports.length > 0) field('ports', container.ports.map((p) => `${p.containerPort}/${p.protocol.toLowerCase()}${p.name ? ` (${p.name})` : ''}`).join(', '));
  field('stop', `${container.stopSignal}, then SIGKILL after ${container.stopGracePeriod}`);
  for (const [kind, probe] of [['readiness', container.readinessProbe], ['liveness', container.livenessProbe], ['startup', container.startupProbe]] as const) {
    if (probe) field(`${kind} probe`, describeProbeSpec(probe));
  }
  return lines;
}

/** `bind /srv/site → /site (read-only)`, `volume (the slot's own, or anonymous) → /data`, `tmpfs 64Mi → /tmp`. */
function describeMount(m: NonNullable<ContainerSpec['mounts']>[number]): string {
  const source = m.type === 'tmpfs' ? (m.tmpfsSize !== undefined ? ` ${formatMemoryBytes(m.tmpfsSize)}` : '') : m.source !== undefined ? ` ${m.source}` : m.type === 'volume' ? ' (per slot when stateful, else anonymous)' : '';
  return `${m.type}${source} → ${m.target}${m.readOnly ? ' (read-only)' : ''}`;
}

/** `1.5 CPUs, 256Mi memory`. */
function describeResources(r: { readonly cpus?: number; readonly memory?: number }): string {
  const parts: string[] = [];
  if (r.cpus !== undefined) parts.push(`${r.cpus} CPU${r.cpus === 1 ? '' : 's'}`);
  if (r.memory !== undefined) parts.push(`${formatMemoryBytes(r.memory)} memory`);
  return parts.join(', ');
}

/** `GET :8080/health every 10s, timeout 1s, after 0s; 3 failures = unhealthy` (Kubernetes' fields in words). */
export function describeProbeSpec(p: Probe): string {
  const what = p.httpGet ? `GET :${p.httpGet.port}${p.httpGet.path}` : p.tcpSocket ? `TCP :${p.tcpSocket.port}` : `exec ${(p.exec?.command ?? []).map(quoteWord).join(' ')}`;
  const delay = p.initialDelaySeconds > 0 ? `, first after ${p.initialDelaySeconds}s` : '';
  return `${what} every ${p.periodSeconds}s, timeout ${p.timeoutSeconds}s${delay}; ${p.failureThreshold} failure${p.failureThreshold === 1 ? '' : 's'} = failing`;
}

function describeUpdateConfig(u: UpdateConfig): string {
  const minHealth = u.minHealth === undefined ? '' : `, min health ${u.minHealth}`;
  const ratio = u.maxFailureRatio > 0 ? `, max failure ratio ${u.maxFailureRatio}` : '';
  return `parallelism ${u.parallelism === 0 ? 'all' : u.parallelism}, delay ${u.delay}, order ${u.order}, failure action ${u.failureAction}, monitor ${u.monitor}${ratio}${minHealth}`;
}

/** Kontena's `health`: ready of the instances meant to run (`2/3 healthy, 1 unhealthy`), or running ones without probes. */
function healthSummary(instances: readonly Instance[], desired: number, c: Palette): string {
  const live = latestPerSlot(instances).filter((i) => i.desiredState === 'running' && !isTerminalState(i.status.state));
  const total = Math.max(desired, live.length);
  if (live.every((i) => healthOf(i) === '')) {
    const running = live.filter((i) => i.status.state === 'running').length;
    return `${running}/${total} running (no probes)`;
  }
  const words = live.map(healthOf);
  const healthy = words.filter((w) => w === 'healthy').length;
  const others = ['unhealthy', 'starting'].map((w) => [w, words.filter((x) => x === w).length] as const).filter(([, n]) => n > 0);
  const down = total - live.length;
  const text = `${healthy}/${total} healthy${others.map(([w, n]) => `, ${n} ${w}`).join('')}${down > 0 ? `, ${down} down` : ''}`;
  return healthy === total ? c.green(text) : others.some(([w]) => w === 'unhealthy') || down > 0 ? c.red(text) : c.yellow(text);
}

/** Quotes a word for display the way a shell would need it. */
function quoteWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
