import type { Identity, InstancePolicy, ServiceSpec } from '../model/index.js';
import { ForbiddenError, authorize, canGrant, privilegedRequests } from '../model/index.js';

/**
 * What a spec asks for beyond running a program, checked against who asks:
 * - a service account role must be one the caller holds in the grid (no escalation through the
 *   instances' token, as Kubernetes' RBAC refuses a RoleBinding to a role its creator lacks);
 * - running as root or another user than the server's default, or in a working directory outside the
 *   allowed roots, needs cluster-admin (Kubernetes' Pod Security: "restricted" vs "privileged").
 * @throws ForbiddenError (403) naming the role needed and every field that needs it
 */
export function checkSpecAccess(identity: Identity, grid: string, spec: ServiceSpec, policy: InstancePolicy | undefined): void {
  const privileged = policy ? privilegedRequests(spec, policy) : [];
  if (privileged.length > 0 && !authorize(identity, 'privileged').allowed) {
    throw new ForbiddenError(
      `forbidden: ${identity.subject} cannot create this spec: ${privileged.map((p) => `spec.${p.message}`).join('; ')}: this needs the role cluster-admin`,
      { needed: 'cluster-admin', fields: privileged.map((p) => `spec.${p.field}`), grid },
    );
  }
  const role = spec.serviceAccount?.role;
  if (role !== undefined && !canGrant(identity, role, grid)) {
    throw new ForbiddenError(
      `forbidden: spec.serviceAccount.role: ${identity.subject} cannot give the role ${role} in grid "${grid}" to a service's instances: only a role it holds there itself`,
      { needed: role, field: 'spec.serviceAccount.role', grid },
    );
  }
}
