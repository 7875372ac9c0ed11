import type { Identity, ServiceSpec } from '../model/index.js';
import { ForbiddenError, canGrant } from '../model/index.js';

/**
 * What a spec asks for beyond running a program, checked against who asks: a service account role must
 * be one the caller holds in the grid (no escalation through the instances' token, as Kubernetes'
 * RBAC refuses a RoleBinding to a role its creator lacks).
 * @throws ForbiddenError (403) naming the role needed
 */
export function checkSpecAccess(identity: Identity, grid: string, spec: ServiceSpec): void {
  const role = spec.serviceAccount?.role;
  if (role !== undefined && !canGrant(identity, role, grid)) {
    throw new ForbiddenError(
      `forbidden: spec.serviceAccount.role: ${identity.subject} cannot give the role ${role} in grid "${grid}" to a service's instances: only a role it holds there itself`,
      { needed: role, field: 'spec.serviceAccount.role', grid },
    );
  }
}
