import type { ServiceDeployment, SpecLimits } from '../model/index.js';
import { formatFieldError, specLimitErrors } from '../model/index.js';

/**
 * Why this server cannot run a deployment, or undefined when it can: the deployed spec breaks a limit
 * of model/limits.ts (e.g. 99,999,999 replicas stored before the limit existed), or is not even shaped
 * like a spec (a row edited by hand). Cheap and bounded: it never allocates by the bad value.
 * @returns one sentence for the service's status message, `why` and the `service.unrunnable` event
 */
export function unrunnableReason(service: { readonly name: string; readonly deployment: ServiceDeployment }, limits: SpecLimits): string | undefined {
  const { generation, spec } = service.deployment;
  let problems: string[];
  try {
    problems = specLimitErrors(spec, limits).map(formatFieldError);
  } catch {
    problems = ['the stored spec is malformed (a list is missing)'];
  }
  if (problems.length === 0) return undefined;
  const scale = problems.some((p) => p.startsWith('spec.replicas')) ? `\`berth service scale ${service.name} N\` or ` : '';
  return `cannot run generation ${generation}: ${problems.join('; ')}; nothing is started or stopped for it until ${scale}an update and deploy brings it within the limits`;
}
