import { z } from 'zod';
import { INSTANCE_STATES } from '../model/index.js';
import { count, time } from './schema-fields.js';
import { ListenerProblemSchema, ServiceSchema } from './service-schemas.js';

/*
 * zod mirrors of model/explanation.ts (response-schemas.ts says why): why a service is (not) healthy,
 * converged or paused — GET …/why, and the `explanation` of GET of one service.
 */

const ProbeEvidenceSchema = z.strictObject({
  kind: z.enum(['readiness', 'liveness', 'startup']),
  container: z.string(),
  target: z.string(),
  lastOutput: z.string(),
  consecutiveFailures: count,
});
export const ExplanationSchema = z.strictObject({
  verdict: z.enum(['removing', 'not_deployed', 'stopped', 'paused', 'rolled_back', 'failed', 'degraded', 'converging', 'healthy']),
  summary: z.string().describe('The verdict in one line, root cause first.'),
  reasons: z.array(
    z.strictObject({
      kind: z.enum(['rollout', 'probe_failing', 'crashed', 'rejected', 'starting', 'draining', 'event', 'intent', 'listener', 'unrunnable', 'unschedulable']),
      message: z.string(),
      instance: z.string().optional(),
      slot: z.int().optional(),
      generation: count.optional(),
      evidence: z.strictObject({
        state: z.enum(INSTANCE_STATES).optional(),
        message: z.string().optional(),
        probe: ProbeEvidenceSchema.optional(),
        exitCode: z.int().optional(),
        signal: z.string().optional(),
        restarts: count.optional(),
        connections: count.optional(),
        lastLogLines: z.array(z.string()).optional().describe('Only in GET …/why: the last 5 lines the container wrote.'),
        event: z.strictObject({ id: count, time, type: z.string(), severity: z.enum(['info', 'warning', 'error']), message: z.string() }).optional(),
        listener: ListenerProblemSchema.optional(),
      }),
    }),
  ),
  suggestions: z.array(z.string()),
  deployedGeneration: count.nullable(),
  instances: z.array(
    z.strictObject({
      slot: z.int().min(1),
      id: z.string(),
      generation: count,
      state: z.enum(INSTANCE_STATES),
      desiredState: z.enum(['running', 'shutdown']),
      health: z.enum(['healthy', 'unhealthy', 'starting', '']),
      ready: z.boolean(),
    }),
  ),
});
/** GET of one service: the Service with its explanation (computed on read; no log lines). */
export const ServiceWithExplanationSchema = ServiceSchema.extend({ explanation: ExplanationSchema });
