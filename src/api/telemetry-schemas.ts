import { z } from 'zod';
import { count, time } from './schema-fields.js';
import { ServiceEventSchema } from './service-schemas.js';

/*
 * zod mirrors of the node telemetry answers (docs/node-telemetry.md; response-schemas.ts says why):
 * log lines and the logs-with-events timeline, stats samples, and the nodes whose agents did not answer.
 */

export const LogLineSchema = z.strictObject({
  time: z.string().describe('RFC 3339 with nanoseconds'),
  stream: z.enum(['stdout', 'stderr']),
  text: z.string(),
  instance: z.string(),
  slot: z.int(),
  container: z.string(),
});
export const InstanceStatsSchema = z.strictObject({
  instance: z.string(),
  slot: z.int(),
  time,
  cpuPercent: z.number().describe('Percent of one core (200 = two cores)'),
  memoryBytes: count,
  processes: count,
});
export const UnreachableNodeSchema = z.strictObject({
  node: z.string(),
  reason: z.string().describe('why its agent could not be read: connect ECONNREFUSED 10.0.0.2:10250, no telemetry port registered, …'),
  instances: z.array(z.string()).describe('the ids of its instances that were asked for'),
});
export const InstanceStatsListSchema = z.strictObject({
  items: z.array(InstanceStatsSchema),
  unreachable: z.array(UnreachableNodeSchema).optional().describe('nodes whose agents did not answer: their instances are not in items'),
});
/** A service event in a log stream (GET …/logs?events=true). */
export const EventLineSchema = z.strictObject({ kind: z.literal('event'), time, event: ServiceEventSchema });
/** `{"warning": …}`: a node whose instances' lines are missing (docs/node-telemetry.md). */
export const StreamWarningSchema = z.strictObject({
  warning: z.strictObject({ code: z.literal('LOGS_UNAVAILABLE'), message: z.string(), details: UnreachableNodeSchema }),
});
export const TimelineLineSchema = z.union([LogLineSchema, EventLineSchema, StreamWarningSchema]);
