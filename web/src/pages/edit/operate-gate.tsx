import type { ReactNode } from 'react';
import { Link } from 'wouter';
import type { Identity } from '../../../../src/model/index.js';
import { roleIn, weakestRoleFor } from '../../../../src/model/access.js';
import { serviceUrl } from '../../urls.js';
import { useSession } from '../../session/session.js';

/** Why `identity` may not change services of `grid`: `you cannot change this service: your role is viewer in grid default; operate needs operator or higher`. */
export function cannotOperateMessage(identity: Identity, grid: string): string {
  const role = roleIn(identity, grid);
  const needed = weakestRoleFor('operate');
  return `you cannot change this service: your role is ${role ?? 'none'} in grid ${grid}; operate needs ${needed} or higher`;
}

/**
 * Renders `children` (an edit or delete form) only for an identity that may operate the service; a
 * viewer who opens the URL gets the reason instead, read-only. The API refuses the write anyway (403).
 */
export function OperateGate({ grid, name, children }: { readonly grid: string; readonly name: string; readonly children: ReactNode }): ReactNode {
  const { can, identity } = useSession();
  if (can('operate', grid, name)) return children;
  return (
    <>
      <p className="edit-note" role="note" data-testid="read-only">
        {cannotOperateMessage(identity, grid)}
      </p>
      <Link href={serviceUrl(grid, name)}>Back to the service</Link>
    </>
  );
}
