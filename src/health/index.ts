export type { ProbeContext, ProbeOutcome } from './probe-handlers.js';
export { runProbe, boundOutput, MAX_PROBE_OUTPUT } from './probe-handlers.js';
export type { HealthTransition, ProberOptions, ProbeSpec } from './prober.js';
export { Prober } from './prober.js';
