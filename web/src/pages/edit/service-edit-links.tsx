import type { ReactNode } from 'react';
import { Link } from 'wouter';
import { useSession } from '../../session/session.js';
import { deleteUrl, editServiceUrl, editUrl, editYamlUrl, internetAccessUrl } from './edit-urls.js';
import './edit.css';

/**
 * Links to the four write pages of a service (Edit, Edit Service, Edit Internet Access, Delete), for
 * the detail page's header or a row's menu; nothing at all for an identity that may not operate it.
 * `compact` shows only Edit and Delete (the services list's row).
 */
export function ServiceEditLinks({ grid, name, compact }: { readonly grid: string; readonly name: string; readonly compact?: boolean }): ReactNode {
  const { can } = useSession();
  if (!can('operate', grid, name)) return null;
  return (
    <nav className={compact ? 'row-actions' : 'edit-links'} aria-label={`Change ${name}`}>
      <Link href={editUrl(grid, name)} className={compact ? undefined : 'button'} aria-label={compact ? `Edit ${name}` : undefined}>
        Edit
      </Link>
      {!compact && (
        <>
          <Link href={editServiceUrl(grid, name)} className="button">
            Edit Service
          </Link>
          <Link href={internetAccessUrl(grid, name)} className="button">
            Edit Internet Access
          </Link>
          <Link href={editYamlUrl(grid, name)} className="button">
            Edit YAML
          </Link>
        </>
      )}
      <Link href={deleteUrl(grid, name)} className={compact ? undefined : 'button danger'} aria-label={compact ? `Delete ${name}` : undefined}>
        Delete
      </Link>
    </nav>
  );
}

/** The detail page's header entry (pages/detail/actions.ts): the four write pages of this service. */
export function EditActions({ service }: { readonly service: { readonly grid: string; readonly name: string } }): ReactNode {
  return <ServiceEditLinks grid={service.grid} name={service.name} />;
}
