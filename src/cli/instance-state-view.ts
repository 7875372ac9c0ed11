import type { Instance, InstanceState } from '../model/index.js';
import type { Palette } from './palette.js';

/*
 * How instance states look in the CLI: Kontena's symbols (⊝ waiting, ⊙ starting, ⊛ running, ⊗ gone)
 * and colours. The state order itself lives in model/instance-state.ts; cli/ may import only its types.
 */

const TERMINAL: ReadonlySet<InstanceState> = new Set(['complete', 'failed', 'shutdown', 'rejected']);

/** complete, failed, shutdown and rejected: the process is gone and the state never changes again. */
export function isTerminalState(state: InstanceState): boolean {
  return TERMINAL.has(state);
}

export function stateSymbol(state: InstanceState): string {
  switch (state) {
    case 'new':
    case 'pending':
      return '⊝';
    case 'starting':
      return '⊙';
    case 'running':
      return '⊛';
    default:
      return '⊗';
  }
}

/** The state word coloured: running green, failed and rejected red, on its way yellow, gone dim. */
export function colourState(state: InstanceState | string, palette: Palette, text: string = state): string {
  switch (state) {
    case 'running':
      return palette.green(text);
    case 'failed':
    case 'rejected':
      return palette.red(text);
    case 'new':
    case 'pending':
    case 'starting':
    case 'deploying':
    case 'degraded':
    case 'removing':
      return palette.yellow(text);
    case 'complete':
    case 'shutdown':
    case 'stopped':
    case 'initialized':
      return palette.dim(text);
    default:
      return text;
  }
}

/** The newest instance of each slot, by slot (the API lists a slot's instances newest first; sorted again to be sure). */
export function latestPerSlot(instances: readonly Instance[]): Instance[] {
  const bySlot = new Map<number, Instance>();
  for (const instance of instances) {
    const seen = bySlot.get(instance.slot);
    if (!seen || instance.createdAt > seen.createdAt) bySlot.set(instance.slot, instance);
  }
  return [...bySlot.values()].sort((a, b) => a.slot - b.slot);
}

/**
 * healthy, unhealthy (a probe at its failure threshold), starting (probes not passed yet), or '' for an
 * instance without probes — the model's healthWord, repeated here because cli/ imports model types only.
 */
export function healthOf(i: Instance): 'healthy' | 'unhealthy' | 'starting' | '' {
  const h = i.status.health;
  if (!h) return '';
  if (h.ready && h.live) return 'healthy';
  if (h.probes.some((p) => p.result === 'failure')) return 'unhealthy';
  return 'starting';
}

/** `draining 3 connections`, `drained`, `drain timed out` — the zero-downtime stop, while and after it runs. */
export function drainOf(i: Instance): string {
  const d = i.status.drain;
  if (!d) return '';
  if (d.endedAt === undefined) return `draining ${d.connections} connection${d.connections === 1 ? '' : 's'}`;
  return d.timedOut ? 'drain timed out' : 'drained';
}

/** The health word coloured: healthy green, unhealthy red, starting yellow. */
export function colourHealth(word: string, palette: Palette): string {
  if (word === 'healthy') return palette.green(word);
  if (word === 'unhealthy') return palette.red(word);
  if (word === 'starting') return palette.yellow(word);
  return word;
}
