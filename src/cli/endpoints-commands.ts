import { Command } from 'commander';
import type { ServiceEndpoints } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { abbreviateAddresses, splitEndpoints } from './endpoint-addresses.js';
import { collectAddresses } from './network-flags.js';
import type { OutputFormat } from './output-format.js';
import { formatStructured, outputOption } from './output-format.js';
import { countValue } from './spec-flags.js';
import { renderTable } from './table.js';

/** `berth endpoints ls [NAME]` and `berth endpoints set NAME ADDR[:PORT]...` (Kubernetes' Endpoints). */
export function endpointsCommand(deps: CliDeps): Command {
  const endpoints = new Command('endpoints').alias('ep').description('list the endpoints behind services, or set those of a service without a selector');
  endpoints.addCommand(endpointsLsCommand(deps));
  endpoints.addCommand(endpointsSetCommand(deps));
  return endpoints;
}

function endpointsLsCommand(deps: CliDeps): Command {
  return new Command('ls')
    .alias('list')
    .description('the ready and not-ready endpoints of every service of the grid, or of one')
    .argument('[name]', 'one service')
    .addOption(outputOption())
    .action(async (name: string | undefined, flags: { readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const names = name === undefined ? (await ctx.client.listServices(ctx.grid)).map((s) => s.name) : [name];
      const all = await Promise.all(names.map((n) => ctx.client.endpoints(ctx.grid, n)));
      if (flags.output !== 'table') ctx.stdout.write(formatStructured(name === undefined ? { items: all } : all[0], flags.output));
      else if (all.length === 0) ctx.note(`no services in grid ${ctx.grid}`);
      else ctx.out(renderEndpointsTable(all));
    });
}

/** SERVICE, ENDPOINTS (ready `ip:port`, the first three then `+ N more...`), NOT READY. */
export function renderEndpointsTable(all: readonly ServiceEndpoints[]): string {
  return renderTable(
    ['SERVICE', 'ENDPOINTS', 'NOT READY'],
    all.map((e) => {
      if (e.type === 'ExternalName') return [e.service, `<external: ${e.externalName ?? '?'}>`, '<none>'];
      const { ready, notReady } = splitEndpoints(e);
      return [e.service, abbreviateAddresses(ready), abbreviateAddresses(notReady)];
    }),
  );
}

function endpointsSetCommand(deps: CliDeps): Command {
  return new Command('set')
    .description('set the endpoints of a service without a selector (replaces them all)')
    .argument('<name>', 'service name')
    .argument('<address...>', 'IP or IP:PORT; without a port, the service\'s target port', collectAddresses)
    .option('--version <n>', 'refuse when the service moved past version N (its compare-and-set token)', countValue)
    .addOption(outputOption())
    .action(async (name: string, addresses: string[], flags: { readonly version?: number; readonly output: OutputFormat }, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const service = await ctx.client.setEndpoints(ctx.grid, name, addresses, flags.version === undefined ? {} : { version: flags.version });
      if (flags.output !== 'table') ctx.stdout.write(formatStructured(service, flags.output));
      else ctx.out(`endpoints of service ${name} set: ${addresses.join(', ')} (version ${service.version})`);
    });
}
