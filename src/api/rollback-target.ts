import type { Service, SpecRevision } from '../model/index.js';
import { NothingToRollBackError, RevisionNotFoundError } from '../model/index.js';
import { changedSpecFields } from './service-events.js';

/**
 * The version a rollback deploys: generation `to`, or by default the generation deployed most recently
 * before the current deployment whose spec differs from it. After a rollback that is the version rolled
 * back from, so a second rollback toggles back (Swarm's PreviousSpec).
 * @throws NothingToRollBackError (409) without a deployment, without an earlier deployed version, or
 *   when `to` names the spec that runs now; RevisionNotFoundError (404) for a `to` not in the history.
 */
export function rollbackTarget(service: Service, history: readonly SpecRevision[], to: number | undefined): SpecRevision {
  const { grid, name, deployment } = service;
  if (!deployment) throw new NothingToRollBackError(grid, name, `it has never been deployed; \`berth service deploy ${name}\` deploys it`);
  const same = (r: SpecRevision): boolean => changedSpecFields(deployment.spec, r.spec).length === 0;
  if (to !== undefined) {
    const target = history.find((r) => r.generation === to);
    if (!target) throw new RevisionNotFoundError(grid, name, to, history.map((r) => r.generation));
    if (same(target)) throw new NothingToRollBackError(grid, name, `generation ${to} has the spec that is deployed now (generation ${deployment.generation})`);
    return target;
  }
  const earlier = history
    .filter((r) => r.generation !== deployment.generation && r.deployedAt !== undefined && !same(r))
    .sort((a, b) => ((a.deployedAt as string) === b.deployedAt ? a.generation - b.generation : (a.deployedAt as string) < (b.deployedAt as string) ? -1 : 1));
  const target = earlier[earlier.length - 1];
  if (!target) {
    throw new NothingToRollBackError(grid, name, `no other version of it was deployed before generation ${deployment.generation}; \`berth service history ${name}\` lists its versions, and --to N picks one`);
  }
  return target;
}
