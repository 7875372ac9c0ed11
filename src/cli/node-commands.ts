import { Command, InvalidArgumentError, Option } from 'commander';
import type { NodeAvailability, NodeDetail, NodeInfo, NodeUpdate } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { UsageError } from './cli-error.js';
import { labelValue } from './flag-values.js';
import { formatAge } from './format-age.js';
import { formatBytes } from './format-bytes.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { renderTable } from './table.js';

/** model's NODE_AVAILABILITIES (the CLI imports model types only; the server checks the value anyway). */
const AVAILABILITIES: readonly NodeAvailability[] = ['active', 'pause', 'drain'];

/** Swarm's STATUS column: Ready or Down. */
function status(node: NodeInfo): string {
  return node.ready ? 'Ready' : 'Down';
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? '<none>' : pairs.join(',');
}

function detailLines(node: NodeDetail, now: number): string[] {
  const lines = [
    `Name:          ${node.name}`,
    `Address:       ${node.address}`,
    `Telemetry:     ${node.telemetryPort !== undefined ? `${node.address.includes(':') ? `[${node.address}]` : node.address}:${node.telemetryPort} (${node.telemetryFingerprint ? `https, certificate SHA-256 ${node.telemetryFingerprint}` : 'plain http: its agent reported no certificate'})` : node.joinedAt === undefined ? "in-process (the server's own node)" : '<none> (its agent runs with --telemetry-port 0)'}`,
    // The record is written when the node registers, changes or goes down (heartbeats write nothing):
    // a ready node's heartbeatAt is when it (re)registered; a down one's, its last heartbeat heard.
    `Status:        ${status(node)} (${node.ready ? 'since' : 'last heartbeat'} ${formatAge(node.heartbeatAt, now)} ago)`,
    `Availability:  ${node.availability}`,
    `Platform:      ${node.os}/${node.arch}`,
    `Capacity:      ${node.capacity.cpus} CPUs, ${formatBytes(node.capacity.memoryBytes)} memory`,
    `Drivers:       ${node.drivers.join(', ') || '<none>'}`,
    ...Object.entries(node.unavailableDrivers ?? {}).map(([d, why]) => `  ${d} unavailable: ${why}`),
    ...(node.containerNetwork ? [`Containers:    network ${node.containerNetwork.name} ${node.containerNetwork.subnet}${node.containerNetwork.dns ? `, DNS at ${node.containerNetwork.dns}` : ''}`] : []),
    ...(node.containerNetwork?.problems ?? []).map((p) => `  problem: ${p}`),
    `Labels:        ${labelText(node.labels)}`,
    `Instances:     ${node.instances.length}`,
  ];
  if (node.instances.length > 0) {
    const table = renderTable(['GRID', 'SERVICE', 'SLOT', 'INSTANCE', 'DESIRED', 'STATE'], node.instances.map((i) => [i.grid, i.service, i.slot, i.id, i.desiredState, i.state]));
    lines.push(...table.split('\n').map((l) => `  ${l}`));
  }
  return lines;
}

function keyValue(value: string, previous: readonly string[] | undefined): string[] {
  if (value.trim() === '') throw new InvalidArgumentError('expected a label key');
  return [...(previous ?? []), value];
}

interface UpdateFlags {
  readonly availability?: NodeUpdate['availability'];
  readonly labelAdd?: Record<string, string>;
  readonly labelRm?: string[];
}

/**
 * `berth node ls|show|update|rm` (Swarm's `docker node`): the machines whose agents run instances,
 * their availability (active, pause, drain) and labels (`node.labels.<key>` of placement constraints).
 * Reading needs cluster-read; changing, manage-nodes (cluster-admin).
 */
export function nodeCommand(deps: CliDeps): Command {
  const node = new Command('node').alias('nodes').description('list, inspect, drain, label and remove nodes');
  node.addCommand(
    new Command('ls')
      .alias('list')
      .description('list the nodes')
      .addOption(outputOption())
      .action(async (flags: { readonly output: OutputFormat }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const nodes = await ctx.client.nodes();
        if (flags.output !== 'table') ctx.stdout.write(formatStructured(nodes, flags.output));
        else ctx.out(renderTable(['NAME', 'STATUS', 'AVAILABILITY', 'ADDRESS', 'DRIVERS', 'LABELS'], nodes.map((n) => [n.name, status(n), n.availability, n.address, n.drivers.join(','), labelText(n.labels)])));
      }),
  );
  node.addCommand(
    new Command('show')
      .alias('inspect')
      .description('show one node: status, availability, platform, capacity, labels and its instances')
      .argument('<name>', 'node name')
      .addOption(outputOption())
      .action(async (name: string, flags: { readonly output: OutputFormat }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const detail = await ctx.client.node(name);
        if (flags.output !== 'table') ctx.stdout.write(formatStructured(detail, flags.output));
        else ctx.out(detailLines(detail, ctx.now()).join('\n'));
      }),
  );
  node.addCommand(
    new Command('update')
      .description('set a node\'s availability or labels')
      .argument('<name>', 'node name')
      .addOption(new Option('--availability <availability>', 'active: takes new instances; pause: keeps what runs, takes nothing new; drain: moves its instances elsewhere').choices(AVAILABILITIES))
      .option('--label-add <key=value>', 'add or change a label (repeatable)', labelValue)
      .option('--label-rm <key>', 'remove a label (repeatable)', keyValue)
      .action(async (name: string, flags: UpdateFlags, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        if (!flags.availability && !flags.labelAdd && !flags.labelRm) throw new UsageError('nothing to change: give --availability, --label-add or --label-rm');
        const updated = await ctx.client.updateNode(name, {
          ...(flags.availability ? { availability: flags.availability } : {}),
          ...(flags.labelAdd ? { labelsAdd: flags.labelAdd } : {}),
          ...(flags.labelRm ? { labelsRemove: flags.labelRm } : {}),
        });
        ctx.out(`node/${updated.name} updated: availability ${updated.availability}, labels ${labelText(updated.labels)}`);
        if (flags.availability === 'drain') ctx.note(`its instances move to other nodes (each replacement starts and is ready before the old one drains); \`berth node show ${updated.name}\` lists what is left`);
      }),
  );
  node.addCommand(
    new Command('join-token')
      .description('create a join token: `berth agent --join URL --token T` on another machine makes it a node (Swarm\'s join-token)')
      .option('--ttl <duration>', 'how long it can be used, e.g. 1h (default: until revoked with berth token revoke)')
      .option('-q, --quiet', 'print the token only')
      .action(async (flags: { readonly ttl?: string; readonly quiet?: boolean }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        const created = await ctx.client.createToken({ role: 'node', name: 'join', ...(flags.ttl ? { ttl: flags.ttl } : {}) });
        if (flags.quiet) {
          ctx.out(created.token);
          return;
        }
        // Servers on etcd: the agent should know every one of them (it moves to the next when one does
        // not answer): this server first, then every server registered in etcd (their advertised URLs).
        const cp = (await ctx.client.version()).controlPlane;
        const servers = [...new Set([ctx.host, ...(cp?.leader ? [cp.leader] : []), ...(cp?.servers ?? []).map((s) => s.url)])];
        const what = cp ? 'this cluster (every server of it in --join: the agent moves to the next when one does not answer; add any that is not listed)' : 'this server';
        ctx.out(`To add a machine as a node of ${what}, run on it:\n\n    berth agent --join ${servers.join(',')} --token ${created.token}\n\nwith --address IP where other machines reach it (the default, 127.0.0.1, serves this machine only).`);
        ctx.note(`token ${created.id}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}: it can only join nodes; revoke it with berth token revoke ${created.id}`);
      }),
  );
  node.addCommand(
    new Command('rm')
      .alias('remove')
      .description('forget a node whose agent has stopped (down)')
      .argument('<name>', 'node name')
      .option('--force', 'remove a node that is still ready too (its instances are replaced elsewhere)')
      .action(async (name: string, flags: { readonly force?: boolean }, cmd: Command) => {
        const ctx = CliContext.of(deps, cmd);
        await ctx.client.removeNode(name, { force: flags.force === true });
        ctx.out(`node/${name} removed`);
      }),
  );
  return node;
}
