import { Command } from 'commander';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';

/** `berth version`: which server answers at the host, and its version. */
export function versionCommand(deps: CliDeps): Command {
  return new Command('version')
    .description('show the version of the server at the host')
    .addOption(outputOption())
    .action(async (flags: { readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const info = await ctx.client.version();
      if (flags.output !== 'table') ctx.stdout.write(formatStructured({ host: ctx.client.server, ...info }, flags.output));
      else {
        const cp = info.controlPlane;
        if (cp) {
          // One of several servers on etcd: it runs no node (its `node` is only its name in the election),
          // so say its role and where the nodes' DNS is instead (docs/control-plane.md).
          const leader = cp.role === 'leader' ? 'this server leads' : cp.leader ? `the leader is ${cp.leader}` : 'no leader yet';
          ctx.out(`server ${info.version} (API ${info.apiVersion}) at ${ctx.client.server}: one of several servers on etcd, ${cp.role} (${leader})`);
          ctx.out('no instances, DNS or proxy run on this server: each node runs them (berth agent); `berth node ls` lists the nodes');
        } else ctx.out(`server ${info.version} (API ${info.apiVersion}) at ${ctx.client.server}, node ${info.node}${info.dns ? `, DNS at ${info.dns}` : ''}`);
        if (info.drivers) ctx.out(`drivers: ${info.drivers.join(', ')}`);
        for (const address of info.dockerApi ?? []) ctx.out(`Docker API: DOCKER_HOST=${address}`);
        for (const [name, why] of Object.entries(info.unavailableDrivers ?? {})) ctx.out(`${name} driver unavailable: ${why}`);
        for (const problem of info.containerProblems ?? []) ctx.out(`containers: ${problem}`);
        // Several servers on etcd: every server registered in etcd (store/server-registry.ts).
        if (cp) {
          ctx.out(`servers (${cp.servers.length}):`);
          for (const s of cp.servers) ctx.out(`  server ${s.id.slice(0, 8)} at ${s.url}${s.leader ? ' (leader)' : ''}`);
        }
      }
    });
}
