import type { Instance } from '../model/index.js';
import type { ServiceProgress } from './convergence.js';
import { colourHealth, colourState, drainOf, healthOf, isTerminalState, stateSymbol } from './instance-state-view.js';
import { LiveView } from './live-view.js';
import type { Palette } from './palette.js';

/**
 * Per-instance progress while a command waits (Kontena's deploy view): one line per instance with a
 * state symbol, its generation (new/old during a rollout), health and drain, redrawn in place on a
 * terminal with the rollout's update status under the service's line; when piped, one plain line per
 * change (`web-2 running healthy`, `web-3 running generation 3 (old) draining 2 connections`) and the
 * update status each time its message changes.
 *
 * A slot is shown when its newest instance is alive or meant to run, and stays shown once it was, so a
 * scale-down or a stop ends with its instances shown as ⊗ shutdown instead of vanishing. During a
 * rollout a slot may show two instances: the old one draining or stopping, and the new one starting.
 */
export class ProgressView {
  readonly #live: LiveView;
  readonly #stdout: NodeJS.WritableStream;
  readonly #palette: Palette;
  readonly #shown = new Set<string>();
  readonly #printed = new Map<string, string>();

  constructor(output: { readonly stdout: NodeJS.WritableStream; readonly interactive: boolean; readonly palette: Palette }) {
    this.#stdout = output.stdout;
    this.#palette = output.palette;
    this.#live = new LiveView(output.stdout, output.interactive);
  }

  update(progress: readonly ServiceProgress[]): void {
    if (this.#live.interactive) this.#live.render(this.#frame(progress));
    else this.#printChanges(progress);
  }

  /** Leaves the last frame on a terminal. */
  done(): void {
    this.#live.done();
  }

  /** The newest instance of each shown slot, and any older one of the slot still alive (start-first, draining). */
  #visible(p: ServiceProgress): Instance[] {
    const bySlot = new Map<number, Instance[]>();
    for (const i of p.instances) bySlot.set(i.slot, [...(bySlot.get(i.slot) ?? []), i]);
    const rows: Instance[] = [];
    for (const [slot, list] of [...bySlot.entries()].sort(([a], [b]) => a - b)) {
      list.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
      const newest = list[0] as Instance;
      const id = `${p.grid}/${p.name}/${slot}`;
      if (!isTerminalState(newest.status.state) || newest.desiredState === 'running') this.#shown.add(id);
      if (!this.#shown.has(id)) continue;
      const older = list.slice(1).filter((i) => !isTerminalState(i.status.state));
      rows.push(...older.reverse(), newest);
    }
    return rows;
  }

  #frame(progress: readonly ServiceProgress[]): string {
    const c = this.#palette;
    const lines: string[] = [];
    for (const p of progress) {
      lines.push(`${c.bold(p.name)}  ${summary(p, c)}`);
      const update = updateLine(p);
      if (update) lines.push(`  ${p.failed !== undefined ? c.red(update) : c.dim(update)}`);
      const rows = this.#visible(p);
      const width = Math.max(0, ...rows.map((i) => i.id.length));
      const generationMark = generationMarker(p);
      for (const i of rows) {
        const state = colourState(i.status.state, c, `${stateSymbol(i.status.state)} ${i.status.state}`.padEnd(10));
        const health = colourHealth(healthOf(i), c);
        const extra = [health, c.yellow(drainOf(i))].filter((x) => x !== '').join('  ');
        const why = isTerminalState(i.status.state) && i.status.message ? `  ${c.dim(i.status.message)}` : '';
        const gen = `gen ${i.generation}${generationMark(i)}`.padEnd(12);
        lines.push(`  ${`${p.name}-${i.slot}`.padEnd(p.name.length + 4)} ${i.id.padEnd(width)}  ${gen} ${state}  ${i.spec.address}${extra ? `  ${extra}` : ''}${why}`);
        for (const layer of pullLines(i)) lines.push(`      ${c.dim(layer)}`);
      }
    }
    return lines.join('\n');
  }

  #printChanges(progress: readonly ServiceProgress[]): void {
    for (const p of progress) {
      const generationMark = generationMarker(p);
      for (const i of this.#visible(p)) {
        const mark = generationMark(i);
        const parts = [`${p.name}-${i.slot}`, i.status.state, healthOf(i), mark ? `generation ${i.generation}${mark}` : '', drainOf(i)].filter((x) => x !== '');
        const why = (i.status.state === 'failed' || i.status.state === 'rejected') && i.status.message ? `: ${i.status.message}` : '';
        const line = `${parts.join(' ')}${why}`;
        for (const layer of pullLines(i)) {
          const key = `${i.id}/pull/${layer.slice(0, 12)}`;
          if (this.#printed.get(key) === layer) continue;
          this.#printed.set(key, layer);
          this.#stdout.write(`${p.name}-${i.slot} pulling ${i.status.pull?.image ?? ''} ${layer}\n`);
        }
        if (this.#printed.get(i.id) === line) continue;
        this.#printed.set(i.id, line);
        this.#stdout.write(`${line}\n`);
      }
      const update = updateLine(p);
      const key = `${p.grid}/${p.name}/update`;
      if (update && this.#printed.get(key) !== update) {
        this.#printed.set(key, update);
        this.#stdout.write(`${p.name}: ${update}\n`);
      }
    }
  }
}

/** One line per layer of an image pull in progress, as `docker pull` prints them: `1a2b3c4d5e6f: Downloading 12.3 MB/40.1 MB`. */
export function pullLines(i: Instance): string[] {
  return (i.status.pull?.layers ?? []).map((l) => {
    const bytes = l.current !== undefined && l.total !== undefined && l.total > 0 ? ` ${megabytes(l.current)}/${megabytes(l.total)}` : '';
    return `${l.id.slice(0, 12)}: ${l.status}${bytes}`;
  });
}

function megabytes(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/**
 * The mark of each instance of `p`: ` (new)` / ` (old)` while a rollout replaces instances, ''
 * otherwise. An instance of an earlier generation that runs the deployed containers is not old: a scale
 * or a change of rollout settings replaces nothing (the model's runsDeployment, which the CLI,
 * importing only the model's types, repeats: containers compared as values, whatever their key order).
 */
function generationMarker(p: ServiceProgress): (i: Instance) => string {
  const deployment = p.service?.deployment;
  if (!deployment) return () => '';
  const containers = sortedJson(deployment.spec.containers);
  const old = (x: Instance): boolean => x.restartGeneration !== deployment.restartGeneration || (x.generation !== deployment.generation && sortedJson(x.spec.containers) !== containers);
  // Worked out once per view of the service: a render marks every instance.
  const outdated = new Set(p.instances.filter(old).map((x) => x.id));
  if (!p.instances.some((x) => !isTerminalState(x.status.state) && outdated.has(x.id))) return () => '';
  return (i) => (outdated.has(i.id) ? ' (old)' : ' (new)');
}

/** JSON with object keys sorted (the model's canonicalJson). */
function sortedJson(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => (v === null || typeof v !== 'object' || Array.isArray(v) ? v : Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))));
}

/** The update status of the rollout being waited for: `updating to generation 4: 1/3 updated, 1 starting`. */
function updateLine(p: ServiceProgress): string {
  if (p.failed !== undefined) return p.failed;
  const update = p.service?.status.update;
  if (!update || !p.rollout) return '';
  const deployment = p.service?.deployment;
  const ours = update.requestedAt === p.rollout.requestedAt || (deployment?.cause === 'auto-rollback' && update.requestedAt === deployment.requestedAt);
  return ours ? `${update.state}: ${update.message}` : '';
}

/** `deploying 1/3 running (generation 2)` / `removed` — the service's line. */
export function summary(p: ServiceProgress, c: Palette): string {
  if (!p.service) return p.goal === 'removed' ? c.dim('removed') : c.red('not found');
  const s = p.service.status;
  const generation = p.service.deployment ? `, generation ${p.service.deployment.generation}` : '';
  const phase = p.converged ? c.green(s.phase) : colourState(s.phase, c);
  const counts = `${s.runningInstances}/${s.desiredInstances} running`;
  // The controllers' message usually repeats the counts first ("1/3 running; web-2 restarting in 4s").
  const extra = s.message.startsWith(counts) ? s.message.slice(counts.length).replace(/^[;,]\s*/, '') : s.message;
  return `${phase}  ${counts}${generation}${extra && !p.converged ? c.dim(` — ${extra}`) : ''}`;
}
