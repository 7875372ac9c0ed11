import type { FieldError } from './field-error.js';
import { LIMITS, MAX_REPLICAS_HINT, utf8Length } from './limits.js';
import type { SpecLimits } from './limits.js';
import type { ServiceSpec } from './service-spec.js';

/**
 * The limits a normalized spec breaks: counts and sizes that zod cannot check alone (record
 * sizes, sums) and the server's replica limit. Cheap (one pass over the spec), so the controller runs
 * it on every reconcile of a deployed spec, before it plans anything proportional to `replicas`.
 * @throws TypeError only for a spec that lacks its lists (a row edited by hand): callers that read
 *   stored rows catch it and treat the spec as unrunnable.
 * @param root  the path prefix of the fields (`spec`)
 */
export function specLimitErrors(spec: ServiceSpec, limits: SpecLimits, root = 'spec'): FieldError[] {
  const errors: FieldError[] = [];
  const at = (path: string): string => `${root}.${path}`;
  // A row written by hand may hold anything: a replica count that is not a small integer is refused too.
  const replicas: unknown = spec.replicas;
  if (spec.mode !== 'global' && (typeof replicas !== 'number' || !Number.isSafeInteger(replicas) || replicas < 0 || replicas > limits.maxReplicas)) {
    errors.push({ field: at('replicas'), type: 'Invalid value', value: replicas, detail: `must be an integer from 0 to ${limits.maxReplicas} (${MAX_REPLICAS_HINT})` });
  }
  const tooMany = (field: string, n: number, max: number, what: string): void => {
    if (n > max) errors.push({ field: at(field), type: 'Too many', value: n, detail: `must have at most ${max} ${what}` });
  };
  tooMany('labels', Object.keys(spec.labels ?? {}).length, LIMITS.labels, 'labels');
  tooMany('annotations', Object.keys(spec.annotations ?? {}).length, LIMITS.labels, 'annotations');
  tooMany('selector', Object.keys(spec.selector ?? {}).length, LIMITS.labels, 'entries');
  tooMany('containers', spec.containers.length, LIMITS.containers, 'containers');
  tooMany('ports', spec.ports.length, LIMITS.ports, 'ports');
  tooMany('externalIPs', spec.externalIPs.length, LIMITS.externalIPs, 'addresses');
  tooMany('endpoints', (spec.endpoints ?? []).length, LIMITS.endpoints, 'endpoints');
  spec.containers.slice(0, LIMITS.containers).forEach((c, i) => {
    const path = `containers[${i}]`;
    tooMany(`${path}.ports`, c.ports.length, LIMITS.ports, 'ports');
    tooMany(`${path}.env`, c.env.length, LIMITS.envEntries, 'entries');
    tooMany(`${path}.command`, c.command?.length ?? 0, LIMITS.argv, 'items');
    tooMany(`${path}.args`, c.args.length, LIMITS.argv, 'items');
    tooMany(`${path}.labels`, Object.keys(c.labels ?? {}).length, LIMITS.labels, 'labels');
    tooMany(`${path}.mounts`, c.mounts?.length ?? 0, LIMITS.mounts, 'mounts');
    let total = 0;
    for (const e of c.env) total += utf8Length(e.name) + utf8Length('value' in e ? e.value : '') + 2; // NAME=VALUE and its NUL
    if (total > LIMITS.envTotalBytes) {
      errors.push({ field: at(`${path}.env`), type: 'Too long', value: `${total} bytes`, detail: `the environment of a container must be no more than ${LIMITS.envTotalBytes} bytes (names and values together)` });
    }
  });
  return errors;
}
