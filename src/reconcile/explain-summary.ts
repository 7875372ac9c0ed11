import type { ExplanationReason, ExplanationVerdict, Service, UpdateStatus } from '../model/index.js';
import { listenerSuggestions } from './explain-listeners.js';

/* The words of an explanation (explain-service.ts): its summary and its suggestions. */

/** An update that failed and is (or was) rolled back automatically: what the controller's events say about it. */
export interface FailedUpdate {
  /** The generation that failed. */
  readonly generation: number | undefined;
  /** "update to generation 4 failed, rolling back to generation 3: web-2 (new, generation 4) failed: …". */
  readonly message: string;
  /** Its failed instances (service.update_failed_instance events). */
  readonly instances: readonly string[];
}

/** The explanation's one-line summary, by verdict (what `berth service why` prints first). */
export function summaryOf(
  verdict: ExplanationVerdict,
  s: {
    service: Service;
    update: UpdateStatus | undefined;
    failedUpdate: FailedUpdate | undefined;
    root: ExplanationReason | undefined;
    ready: number;
    desired: number;
    reasons: readonly ExplanationReason[];
  },
): string {
  const { service, update, root } = s;
  const generation = service.deployment?.generation ?? service.generation;
  const why = root?.message ?? update?.message ?? service.status.message;
  // "update to generation 4 failed, rolling back to generation 3: <reason>" → the reason.
  const tripped = s.failedUpdate?.message.replace(/^[^:]*: /, '');
  const more = (kind: (r: ExplanationReason) => boolean): string => {
    const n = s.reasons.filter((r) => r !== root && kind(r) && r.kind !== 'rollout').length;
    return n > 0 ? ` (and ${n} more)` : '';
  };
  switch (verdict) {
    case 'paused':
      return update?.state === 'rollback_paused'
        ? `rollback to generation ${service.deployment?.rollbackTo ?? generation} paused: ${why}`
        : `update to generation ${update?.generation ?? generation} paused: ${why}`;
    case 'rolled_back':
      return `update to generation ${s.failedUpdate?.generation ?? '?'} failed and was rolled back to generation ${service.deployment?.rollbackTo ?? '?'} (deployed as ${generation}): ${root?.message ?? (tripped || why)}`;
    case 'failed':
      return `no instance of ${service.name} is ready (0/${s.desired}): ${why}${more((r) => r.kind !== 'starting' && r.kind !== 'draining')}`;
    case 'degraded':
      return `${s.ready}/${s.desired} instances of ${service.name} ready: ${why}${more((r) => r.kind !== 'starting' && r.kind !== 'draining')}`;
    case 'converging':
      return `${service.name} is converging to generation ${generation} (${s.ready}/${s.desired} ready): ${why}`;
    default:
      return `${s.ready}/${s.desired} instances of ${service.name} ready, running generation ${generation}${root ? `; but ${root.message}` : ''}`;
  }
}

/** What the user can do next, by verdict and reasons (commands to run, fields to change), each once. */
export function suggestionsOf(verdict: ExplanationVerdict, reasons: readonly ExplanationReason[], service: Service, update: UpdateStatus | undefined): string[] {
  const name = service.name;
  const out: string[] = [];
  if (verdict === 'paused') {
    if (update?.fromGeneration !== undefined && update.fromGeneration !== update.generation) out.push(`\`berth service rollback ${name}\` goes back to generation ${update.fromGeneration}`);
    out.push(`fix the spec (\`berth service update ${name} … --deploy\`), or \`berth service deploy ${name}\` to retry the update`);
  }
  if (verdict === 'rolled_back') out.push(`\`berth service history ${name}\` compares the versions; fix the spec and deploy it again`);
  const failedProbe = reasons.find((r) => r.kind === 'probe_failing');
  if (failedProbe?.evidence.probe) {
    const p = failedProbe.evidence.probe;
    out.push(`check what ${p.target} answers (\`berth service logs ${name} -i ${failedProbe.slot ?? ''}\`)`.replace(' -i )', ')'));
    if (verdict === 'paused' || verdict === 'rolled_back' || p.kind !== 'liveness') {
      out.push(`if the instances only need longer to warm up: raise the ${p.kind} probe's initialDelaySeconds or failureThreshold, or updateConfig.monitor`);
    }
  }
  const crashed = reasons.find((r) => r.kind === 'crashed');
  if (crashed) out.push(`\`berth service logs ${name} -i ${crashed.slot ?? ''}\` shows what it wrote before it exited`);
  if (reasons.some((r) => r.kind === 'rejected')) out.push(`check the container's command, image and working directory (\`berth service show ${name}\`)`);
  out.push(...listenerSuggestions(reasons));
  if (reasons.some((r) => r.kind === 'unschedulable')) out.push('`berth node ls` shows the nodes\' state, labels and capacity; relax spec.placement or the reservations, or add or activate a node');
  if (reasons.some((r) => r.kind === 'event')) out.push(`\`berth service events ${name}\` has the full history`);
  return [...new Set(out)];
}
