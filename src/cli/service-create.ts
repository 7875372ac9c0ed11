import { Command } from 'commander';
import { deployStateOf, describeNetworkOnly } from './deploy-state-view.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { SpecFlags } from './spec-flags.js';
import { storeSecretEnv } from './secret-env.js';
import { addSpecOptions, secretEnvName, specFromFlags } from './spec-flags.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, rolloutTarget, waitWithProgress } from './wait-flags.js';

type CreateFlags = SpecFlags & WaitFlags & { readonly stateful?: boolean; readonly deploy?: boolean };

/**
 * `berth service create NAME [IMAGE]`: creates a service and, as Kontena, does not deploy it unless
 * `--deploy` is given. Without IMAGE the service runs `--cmd` as a plain process in the current
 * directory (or `-w`).
 */
export function serviceCreateCommand(deps: CliDeps): Command {
  const command = new Command('create')
    .description('create a service (it is not deployed unless --deploy is given)')
    .argument('<name>', 'service name (a DNS label: lower case, digits and -)')
    .argument('[image]', 'image to run with the docker driver; without one, --cmd runs as a plain process');
  addSpecOptions(command, 'create');
  command.option('--deploy', 'deploy at once (and wait, unless --no-wait)');
  addWaitOptions(command);
  return command.action(async (name: string, image: string | undefined, flags: CreateFlags, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const { spec, warnings } = specFromFlags({ name, image }, flags, { cwd: ctx.cwd });
    for (const w of warnings) ctx.note(`warning: ${w}`);
    const stored = await storeSecretEnv(ctx, name, flags.secretEnv);
    let service;
    try {
      service = await ctx.client.createService(ctx.grid, spec, { deploy: flags.deploy === true });
    } catch (e) {
      // Leave no secret behind for a service that was not created (one that existed before stays).
      if (stored === 'created') await ctx.client.removeSecret(ctx.grid, secretEnvName(name)).catch(() => undefined);
      throw e;
    }
    if (!flags.deploy) {
      // A service without containers has nothing to deploy: its network face serves from now on.
      if (deployStateOf(service).kind === 'network-only') ctx.out(`service ${name} created: ${describeNetworkOnly(service.spec)}, in effect now (nothing to deploy)`);
      else ctx.out(`service ${name} created (not deployed): run \`${ctx.commandHint(`service deploy ${name}`)}\``);
      return;
    }
    ctx.out(`service ${name} created, deploying generation ${service.generation}`);
    if (flags.wait) await waitWithProgress(ctx, [rolloutTarget(ctx.grid, service)], { timeout: flags.timeout });
  });
}
