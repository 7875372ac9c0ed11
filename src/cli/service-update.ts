import { storeSecretEnv } from './secret-env.js';
import { Command } from 'commander';
import type { Service } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import type { SpecFlags } from './spec-flags.js';
import { addSpecOptions, countValue, mergeSpecFlags, secretEnvName } from './spec-flags.js';
import type { WaitFlags } from './wait-flags.js';
import { addWaitOptions, rolloutTarget, waitWithProgress } from './wait-flags.js';

type UpdateFlags = SpecFlags & WaitFlags & { readonly version?: number; readonly deploy?: boolean };

/**
 * `berth service update NAME`: reads the service, merges the flags into its spec and writes it back
 * with the version read (or `--version N`), so a concurrent change is refused with 409 instead of being
 * overwritten. Does not deploy unless `--deploy` is given (Kontena).
 */
export function serviceUpdateCommand(deps: CliDeps): Command {
  const command = new Command('update')
    .description('change a service spec (it is not deployed unless --deploy is given)')
    .argument('<name>', 'service name');
  addSpecOptions(command, 'update');
  command
    .option('--version <n>', 'refuse the update when the service moved past version N (its compare-and-set token)', countValue)
    .option('--deploy', 'deploy the new spec at once (and wait, unless --no-wait)');
  addWaitOptions(command);
  return command.action(async (name: string, flags: UpdateFlags, cmd: Command) => {
    const ctx = CliContext.of(deps, cmd);
    const current = await ctx.client.getService(ctx.grid, name);
    const { spec, warnings } = mergeSpecFlags(current.spec, flags, { cwd: ctx.cwd });
    for (const w of warnings) ctx.note(`warning: ${w}`);
    if (await storeSecretEnv(ctx, name, flags.secretEnv)) {
      ctx.note(`secret ${secretEnvName(name)} updated: running instances see new values when they start again (\`${ctx.commandHint(`service restart ${name}`)}\`)`);
    }
    const updated = await ctx.client.updateService(ctx.grid, name, spec, {
      version: flags.version ?? current.version,
      ...(flags.deploy ? { deploy: true } : {}),
    });
    ctx.out(updateLine(ctx, current, updated, flags.deploy === true));
    if (flags.deploy && flags.wait) await waitWithProgress(ctx, [rolloutTarget(ctx.grid, updated)], { timeout: flags.timeout });
  });
}

function updateLine(ctx: CliContext, before: Service, after: Service, deploying: boolean): string {
  const changed = after.generation !== before.generation;
  if (deploying) return `service ${after.name} ${changed ? 'updated' : 'unchanged'}, deploying generation ${after.generation}`;
  const behind = !after.deployment || after.deployment.generation !== after.generation;
  const hint = behind ? ` (not deployed): run \`${ctx.commandHint(`service deploy ${after.name}`)}\`` : '';
  return changed ? `service ${after.name} updated to generation ${after.generation}${hint}` : `service ${after.name} unchanged (generation ${after.generation})${hint}`;
}
