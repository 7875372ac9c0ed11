import { storeSecretEnv } from './secret-env.js';
import { Command } from 'commander';
import type { Service } from '../model/index.js';
import { CliContext } from './cli-context.js';
import { deployStateOf } from './deploy-state-view.js';
import { liveChanges } from './spec-diff.js';
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

/**
 * `service web updated to generation 3: network changed, in effect now (nothing to deploy)` — or, when
 * the workload moved past what is deployed, `… (not deployed): run \`berth service deploy web\``, with
 * `; its network change is in effect now` when the change was partly live (docs/spec.md).
 */
export function updateLine(ctx: CliContext, before: Service, after: Service, deploying: boolean): string {
  const changed = after.generation !== before.generation;
  if (deploying) return `service ${after.name} ${changed ? 'updated' : 'unchanged'}, deploying generation ${after.generation}`;
  const state = deployStateOf(after);
  const live = changed ? liveChanges(before.spec, after.spec) : [];
  const deployHint = `run \`${ctx.commandHint(`service deploy ${after.name}`)}\``;
  if (state.kind === 'behind' || state.kind === 'never-deployed') {
    const head = changed ? `service ${after.name} updated to generation ${after.generation}` : `service ${after.name} unchanged (generation ${after.generation})`;
    const alsoLive = live.length > 0 ? `; its ${live.join(' and ')} change is in effect now` : '';
    return `${head} (not deployed): ${deployHint}${alsoLive}`;
  }
  if (!changed) return `service ${after.name} unchanged (generation ${after.generation})`;
  // Nothing waits for a deploy: say what took effect.
  const what = live.length > 0 ? `${live.join(' and ')} changed, in effect now` : 'it matches the deployed spec';
  return `service ${after.name} updated to generation ${after.generation}: ${what} (nothing to deploy)`;
}
