import type { Instance } from '../model/index.js';
import type { ServiceProgress } from './convergence.js';
import { colourState, isTerminalState, latestPerSlot, stateSymbol } from './instance-state-view.js';
import { LiveView } from './live-view.js';
import type { Palette } from './palette.js';

/**
 * Per-instance progress while a command waits (Kontena's deploy view): one line per slot with a state
 * symbol, redrawn in place on a terminal; plain `web-2 running` lines, one per change, when piped.
 *
 * A slot is shown when its newest instance is alive or meant to run, and stays shown once it was, so a
 * scale-down or a stop ends with its instances shown as ⊗ shutdown instead of vanishing.
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

  #visible(p: ServiceProgress): Instance[] {
    return latestPerSlot(p.instances).filter((i) => {
      const id = `${p.grid}/${p.name}/${i.slot}`;
      if (!isTerminalState(i.status.state) || i.desiredState === 'running') this.#shown.add(id);
      return this.#shown.has(id);
    });
  }

  #frame(progress: readonly ServiceProgress[]): string {
    const c = this.#palette;
    const lines: string[] = [];
    for (const p of progress) {
      lines.push(`${c.bold(p.name)}  ${summary(p, c)}`);
      for (const i of this.#visible(p)) {
        const state = colourState(i.status.state, c, `${stateSymbol(i.status.state)} ${i.status.state}`.padEnd(10));
        const why = isTerminalState(i.status.state) && i.status.message ? `  ${c.dim(i.status.message)}` : '';
        lines.push(`  ${`${p.name}-${i.slot}`.padEnd(p.name.length + 4)} ${state}  ${i.spec.address}${why}`);
      }
    }
    return lines.join('\n');
  }

  #printChanges(progress: readonly ServiceProgress[]): void {
    for (const p of progress) {
      for (const i of this.#visible(p)) {
        const id = `${p.grid}/${p.name}/${i.slot}`;
        const shown = `${i.id}:${i.status.state}`;
        if (this.#printed.get(id) === shown) continue;
        this.#printed.set(id, shown);
        const why = (i.status.state === 'failed' || i.status.state === 'rejected') && i.status.message ? `: ${i.status.message}` : '';
        this.#stdout.write(`${p.name}-${i.slot} ${i.status.state}${why}\n`);
      }
    }
  }
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
