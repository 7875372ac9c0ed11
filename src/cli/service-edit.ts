import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import type { ExplainedService } from '../client/index.js';
import { isApiError } from '../client/index.js';
import type { Service } from '../model/index.js';
import { CliContext } from './cli-context.js';
import type { CliDeps } from './cli-deps.js';
import { CliError } from './cli-error.js';
import { deployStateOf } from './deploy-state-view.js';
import { parseManifest } from './manifest.js';
import type { ManifestService } from './manifest.js';
import { errorLines } from './report-error.js';
import { updateLine } from './service-update.js';
import { durationValue } from './spec-flags.js';
import { DEFAULT_WAIT_TIMEOUT, rolloutTarget, waitWithProgress } from './wait-flags.js';

interface EditFlags {
  readonly deploy: boolean;
  readonly wait?: boolean;
  readonly timeout: string;
}

/** Said when the saved file holds what it held when the editor opened (kubectl's words); exit 0. */
export const EDIT_CANCELLED_UNCHANGED = 'Edit cancelled, no changes made.';
export const EDIT_CANCELLED_EMPTY = 'Edit cancelled, saved file was empty.';

const HEADER = [
  '# Please edit the service below. Lines beginning with a \'#\' at the top are ignored,',
  '# and an empty file cancels the edit. If an error occurs while saving, this file is',
  '# reopened with the errors. Fields the server writes (id, version, status …) are ignored.',
];

/**
 * `berth service edit NAME` (kubectl edit): opens the service, as `show -o yaml` prints it, in
 * $VISUAL, else $EDITOR, else vi; then validates and applies the saved file as `apply` would — the spec
 * is stored with the version read when the editor opened (a change made meanwhile is not overwritten
 * unseen), and deployed when its workload moved past what is deployed (`--no-deploy` stores only).
 * A file the server refuses reopens with the errors as comments at the top; saving it unchanged again
 * gives up (exit 1, the file is kept). An unchanged or empty file cancels the edit (exit 0).
 */
export function serviceEditCommand(deps: CliDeps): Command {
  return new Command('edit')
    .description('edit a service in $VISUAL / $EDITOR (the YAML of `show -o yaml`), then validate and apply it')
    .argument('<name>', 'service name')
    .option('--no-deploy', 'store the edited spec without deploying it')
    .option('--wait', 'wait until the deployed edit has rolled out')
    .option('--timeout <duration>', 'how long --wait waits: seconds or a duration', durationValue, DEFAULT_WAIT_TIMEOUT)
    .action(async (name: string, flags: EditFlags, cmd: Command) => {
      const ctx = CliContext.of(deps, cmd);
      const original = await ctx.client.getService(ctx.grid, name);
      const dir = await mkdtemp(join(tmpdir(), 'berth-edit-'));
      const file = join(dir, `${name}.yaml`);
      let keep = false;
      try {
        const result = await editLoop(ctx, original, file);
        if (result.kind === 'cancelled') {
          ctx.out(result.message);
          return;
        }
        const { before, after } = result;
        if (!flags.deploy || !needsDeploy(after)) {
          ctx.out(updateLine(ctx, before, after, false));
          return;
        }
        const deployed = await ctx.client.deploy(ctx.grid, name, { version: after.version });
        ctx.out(`service ${name} edited, deploying generation ${deployed.deployment?.generation ?? deployed.generation}`);
        if (flags.wait) await waitWithProgress(ctx, [rolloutTarget(ctx.grid, deployed)], { timeout: flags.timeout });
      } catch (e) {
        if (e instanceof KeptEdit) {
          keep = true;
          throw new CliError(e.message, { lines: [...e.lines, `your changes are kept in ${file}`] });
        }
        throw e;
      } finally {
        if (!keep) await rm(dir, { recursive: true, force: true });
      }
    });
}

/** The service's workload differs from what is deployed, or it was never deployed (as apply decides). */
function needsDeploy(service: Service): boolean {
  const state = deployStateOf(service);
  return state.kind === 'behind' || state.kind === 'never-deployed';
}

/** The edit failed in a way the user can only fix by hand: the file is kept for them. */
class KeptEdit extends Error {
  constructor(
    message: string,
    readonly lines: readonly string[] = [],
  ) {
    super(message);
    this.name = 'KeptEdit';
  }
}

type EditResult = { readonly kind: 'cancelled'; readonly message: string } | { readonly kind: 'saved'; readonly before: Service; readonly after: Service };

/**
 * Editor → parse → store, until the server takes the file or the user gives up. `errors` of the last
 * attempt go at the top of the reopened file as comments.
 */
async function editLoop(ctx: CliContext, original: ExplainedService, file: string): Promise<EditResult> {
  const originalBody = editableYaml(original);
  let base: Service = original;
  let body = originalBody;
  let errors: readonly string[] = [];
  // The last save was refused (invalid): saving the same text again cannot work, so it gives up.
  let refused = false;
  for (;;) {
    await writeFile(file, `${[...HEADER, ...errorComments(errors)].join('\n')}\n${body}`, { mode: 0o600 });
    await runEditor(ctx, file);
    const saved = stripLeadingComments(await readFile(file, 'utf8'));
    if (saved.trim() === '') return { kind: 'cancelled', message: EDIT_CANCELLED_EMPTY };
    if (refused && saved.trim() === body.trim()) {
      throw new KeptEdit(`edit cancelled: the file was saved without fixing the errors`, errors);
    }
    body = saved;
    let entry: ManifestService;
    try {
      entry = parseEdited(ctx, saved, file, original.name);
    } catch (e) {
      errors = errorLines(e).map((l) => l.replace(/^error: /, ''));
      refused = true;
      continue;
    }
    if (sameSpec(entry, originalBody, file, ctx)) return { kind: 'cancelled', message: EDIT_CANCELLED_UNCHANGED };
    try {
      const after = await ctx.client.updateService(ctx.grid, original.name, entry.spec, { version: base.version });
      return { kind: 'saved', before: base, after };
    } catch (e) {
      if (isApiError(e, 'VERSION_CONFLICT')) {
        // Someone changed the service while the editor was open. Reopen, saying so; saving again
        // applies the edit over the latest version (it is read now), as a deliberate choice.
        const latest = await ctx.client.getService(ctx.grid, original.name);
        errors = [
          `service ${original.name} was changed by someone else while you edited it (version ${base.version} → ${latest.version}):`,
          'save again to apply your edit over the latest version, or quit without saving to leave it',
        ];
        base = latest;
        refused = false;
        continue;
      }
      if (isApiError(e) && e.status >= 400 && e.status < 500) {
        errors = errorLines(e).map((l) => l.replace(/^error: /, ''));
        refused = true;
        continue;
      }
      throw new KeptEdit(e instanceof Error ? e.message : String(e));
    }
  }
}

/** The service as `show -o yaml` prints it, without the explanation (computed on read, not part of the object). */
function editableYaml(service: ExplainedService): string {
  const { explanation: _explanation, ...object } = service;
  return stringify(object, { lineWidth: 0 });
}

/** The saved file as one service of this name and grid. @throws CliError naming what is wrong */
function parseEdited(ctx: CliContext, text: string, file: string, name: string): ManifestService {
  const manifest = parseManifest(text, { source: file, dir: ctx.cwd });
  const [entry, ...more] = manifest.services;
  if (!entry) throw new CliError(`${file} holds no service`);
  if (more.length > 0) throw new CliError(`${file} holds ${manifest.services.length} services: edit one service at a time`);
  if (entry.name !== name) throw new CliError(`spec.name: Invalid value: "${entry.name}": a service cannot be renamed (it is ${name})`);
  if (entry.grid !== undefined && entry.grid !== ctx.grid) throw new CliError(`grid: Invalid value: "${entry.grid}": a service cannot move to another grid (it is in ${ctx.grid})`);
  return entry;
}

/** True when the edited spec is the one the editor opened with (key order and formatting aside). */
function sameSpec(entry: ManifestService, originalBody: string, file: string, ctx: CliContext): boolean {
  const before = parseManifest(originalBody, { source: file, dir: ctx.cwd }).services[0];
  return before !== undefined && canonical(before.spec) === canonical(entry.spec);
}

/**
 * Runs the user's editor on `file` and waits for it: $VISUAL, else $EDITOR, else vi, through /bin/sh
 * so that an editor with arguments (`code --wait`) works, as git runs core.editor.
 * @throws CliError when it cannot start or exits non-zero (nothing is applied)
 */
async function runEditor(ctx: CliContext, file: string): Promise<void> {
  const editor = ctx.env['VISUAL'] || ctx.env['EDITOR'] || 'vi';
  const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'berth-edit', file], { stdio: 'inherit', env: ctx.env });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  }).catch((e: unknown) => {
    throw new CliError(`cannot start the editor \`${editor}\`: ${e instanceof Error ? e.message : String(e)}`);
  });
  if (code !== 0) {
    throw new CliError(`the editor \`${editor}\` ${signal ? `was killed by ${signal}` : `exited with code ${code}`}: nothing applied`, {
      lines: ['set $VISUAL or $EDITOR to the editor to use (default vi)'],
    });
  }
}

function errorComments(errors: readonly string[]): string[] {
  if (errors.length === 0) return [];
  return ['#', '# The service could not be saved:', ...errors.map((e) => `# ${e.trimEnd()}`), '#'];
}

/** The file without the comment lines at its top (the header and the errors berth wrote there). */
function stripLeadingComments(text: string): string {
  const lines = text.split('\n');
  let k = 0;
  while (k < lines.length && /^\s*(#.*)?$/.test(lines[k] ?? '')) k++;
  return lines.slice(k).join('\n');
}

function canonical(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
