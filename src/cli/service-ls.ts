import { Command } from 'commander';
import type { Service, ServiceSpec } from '../model/index.js';
import { describeListener, listenersNotOpen } from './listener-lines.js';
import { CliContext } from './cli-context.js';
import { deployStateOf } from './deploy-state-view.js';
import type { CliDeps } from './cli-deps.js';
import { formatAge } from './format-age.js';
import { colourState } from './instance-state-view.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import type { Palette } from './palette.js';
import { labelValue } from './spec-flags.js';
import { renderTable } from './table.js';

interface LsFlags {
  readonly quiet?: boolean;
  readonly output: OutputFormat;
  readonly label?: Readonly<Record<string, string>>;
}

/** `berth service ls`: the grid's services (Kontena's `service ls`). */
export function serviceLsCommand(deps: CliDeps): Command {
  return new Command('ls')
    .alias('list')
    .description('list the services of the grid')
    .option('-q, --quiet', 'print names only')
    .addOption(outputOption())
    .option('--label <key=value>', 'only services with this label (repeatable)', labelValue)
    .action(async (flags: LsFlags, command: Command) => {
      const ctx = CliContext.of(deps, command);
      const services = await ctx.client.listServices(ctx.grid, flags.label ? { labels: flags.label } : {});
      if (flags.quiet) {
        for (const s of services) ctx.out(s.name);
      } else if (flags.output !== 'table') {
        ctx.stdout.write(formatStructured(services, flags.output));
      } else if (services.length === 0) {
        ctx.note(`no services in grid ${ctx.grid}`);
      } else {
        const loadBalancers = await loadBalancerAddresses(ctx, services);
        ctx.out(renderServiceTable(services, { now: ctx.now(), palette: ctx.palette, loadBalancers }));
        for (const line of listenerWarnings(services, ctx.palette, (name) => ctx.commandHint(`service why ${name}`))) ctx.note(line);
      }
    });
}

/**
 * NAME, INSTANCES (running/desired), STATE, GENERATION, TYPE, CLUSTER-IP, EXTERNAL-IP, PORTS, AGE —
 * the network columns as `kubectl get svc` shows them.
 * @param options.loadBalancers  ingress addresses of LoadBalancer services by name (from their
 *   endpoints); a LoadBalancer service missing here shows `<pending>`, as kubectl does.
 */
export function renderServiceTable(
  services: readonly Service[],
  options: { readonly now: number; readonly palette: Palette; readonly loadBalancers?: ReadonlyMap<string, readonly string[]> },
): string {
  return renderTable(
    ['NAME', 'INSTANCES', 'STATE', 'GENERATION', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORTS', 'AGE'],
    services.map((s) => [
      s.name,
      `${s.status.runningInstances}/${s.status.desiredInstances}`,
      stateCell(s, options.palette),
      generationCell(s),
      s.spec.type,
      clusterIpCell(s.spec),
      externalIpCell(s.spec, options.loadBalancers?.get(s.name)),
      portsCell(s.spec),
      formatAge(s.createdAt, options.now),
    ]),
  );
}

/** The phase, and how many of its listeners are not open (its ListenersOpen condition). */
function stateCell(s: Service, c: Palette): string {
  const down = listenersNotOpen(s).length;
  return down === 0 ? colourState(s.status.phase, c) : `${colourState(s.status.phase, c)} ${c.red(`(${down} listener${down === 1 ? '' : 's'} not open)`)}`;
}

/**
 * One warning per listener that is not open, printed under the table (to stderr):
 * `warning: web: TCP 127.0.0.1:30000 (node port of 80/TCP) cannot be opened: EADDRINUSE (…); \`berth service why web\``.
 */
export function listenerWarnings(services: readonly Service[], c: Palette, whyHint: (name: string) => string): string[] {
  return services.flatMap((s) => listenersNotOpen(s).map((l) => `${c.yellow('warning:')} ${s.name}: ${describeListener(l)}; \`${whyHint(s.name)}\``));
}

/** As kubectl: `None` for headless, `<none>` for ExternalName or before the server allocated one. */
export function clusterIpCell(spec: ServiceSpec): string {
  if (spec.type === 'ExternalName') return '<none>';
  return spec.clusterIP ? spec.clusterIP : '<none>';
}

/**
 * As kubectl: ExternalName → the external name; LoadBalancer → the ingress addresses then the
 * externalIPs (`<pending>` before there are any); otherwise the externalIPs, or `<none>`.
 */
export function externalIpCell(spec: ServiceSpec, loadBalancerIPs: readonly string[] | undefined): string {
  if (spec.type === 'ExternalName') return spec.externalName ?? '<none>';
  if (spec.type === 'LoadBalancer') {
    const all = [...(loadBalancerIPs ?? []), ...spec.externalIPs.filter((ip) => !loadBalancerIPs?.includes(ip))];
    return all.length > 0 ? all.join(',') : '<pending>';
  }
  return spec.externalIPs.length > 0 ? spec.externalIPs.join(',') : '<none>';
}

/**
 * `80/TCP,443:30443/TCP` (kubectl's PORTS), a published port as `*:8080->80/TCP` (docker service ls),
 * or `<none>`. A service that declares no ports is served on its containers' ports (the server's rule),
 * so those are shown.
 */
export function portsCell(spec: ServiceSpec): string {
  const ports = spec.ports.length > 0 ? spec.ports : spec.containers.flatMap((c) => c.ports.map((p) => ({ port: p.containerPort, protocol: p.protocol, nodePort: undefined, published: undefined })));
  if (ports.length === 0 || spec.type === 'ExternalName') return '<none>';
  return ports.map((p) => `${p.published === undefined ? '' : `*:${p.published}->`}${p.port}${p.nodePort === undefined ? '' : `:${p.nodePort}`}/${p.protocol}`).join(',');
}

/** Load-balancer ingress addresses of the LoadBalancer services (their endpoints route), fetched together. */
async function loadBalancerAddresses(ctx: CliContext, services: readonly Service[]): Promise<Map<string, readonly string[]>> {
  const balanced = services.filter((s) => s.spec.type === 'LoadBalancer');
  const answers = await Promise.all(
    balanced.map((s) =>
      ctx.client.endpoints(ctx.grid, s.name).then(
        (e) => [s.name, e.loadBalancerIPs] as const,
        // An older server without the route, or a service removed meanwhile: shown as <pending>.
        () => undefined,
      ),
    ),
  );
  return new Map(answers.filter((a) => a !== undefined));
}

/**
 * `3`, or `3 (deployed 2)` when the workload moved past what is deployed, or `1 (not deployed)`. A
 * later generation that changed only the network face or labels (in effect once stored), and a service
 * without containers, show the plain generation: nothing waits for a deploy.
 */
function generationCell(s: Service): string {
  const state = deployStateOf(s);
  if (state.kind === 'never-deployed') return `${s.generation} (not deployed)`;
  if (state.kind === 'behind' && s.deployment) return `${s.generation} (deployed ${s.deployment.generation})`;
  return String(s.generation);
}
