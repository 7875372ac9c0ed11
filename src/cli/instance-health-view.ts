import type { Instance } from '../model/index.js';
import type { Palette } from './palette.js';

/*
 * How an instance's health looks in the CLI. The rule is model/instance-health.ts's healthWord (cli/
 * may import only model types, so it is restated here, and kept to the same three words).
 */

/** healthy, unhealthy (a probe reached its failure threshold), starting (not passed yet), '' without probes. */
export function healthOf(i: Instance): 'healthy' | 'unhealthy' | 'starting' | '' {
  const h = i.status.health;
  if (!h) return '';
  if (h.ready && h.live) return 'healthy';
  if (h.probes.some((p) => p.result === 'failure')) return 'unhealthy';
  return 'starting';
}

/** The HEALTH cell of `ps`: the word coloured, `-` for an instance without probes or that ended. */
export function healthCell(i: Instance, palette: Palette): string {
  const word = healthOf(i);
  if (word === '' || i.status.state !== 'running') return '-';
  return word === 'healthy' ? palette.green(word) : word === 'unhealthy' ? palette.red(word) : palette.yellow(word);
}

/**
 * The health line of `show`: "unhealthy — readiness probe GET http://127.10.0.3:8080/health: HTTP 503: …",
 * or undefined without probes. The drain, when there is one: "drained in 312 ms", "draining, 2 open connection(s)".
 */
export function healthDetail(i: Instance): string | undefined {
  const word = healthOf(i);
  if (word === '') return undefined;
  const failing = i.status.health?.probes.find((p) => p.result === 'failure');
  return failing ? `${word} — ${failing.kind} probe ${failing.target}: ${failing.lastOutput}` : word;
}

export function drainDetail(i: Instance): string | undefined {
  const d = i.status.drain;
  if (!d) return undefined;
  if (!d.endedAt) return `draining since ${d.since}, ${d.connections} open connection(s)`;
  const ms = Date.parse(d.endedAt) - Date.parse(d.since);
  return d.timedOut ? `timed out after ${ms} ms with ${d.connections} open connection(s)` : `drained in ${ms} ms`;
}
