import { useState } from 'react';
import type { ReactNode } from 'react';
import { Link, useParams, useSearchParams } from 'wouter';
import type { Service } from '../../../src/model/index.js';
import { ErrorNote } from '../components/layout.js';
import { RelativeTime } from '../components/relative-time.js';
import { createUrl, serviceUrl } from '../urls.js';
import { useLiveList } from '../session/live.js';
import { useSession } from '../session/session.js';
import { ServiceEditLinks } from './edit/service-edit-links.js';
import { accessOf, aliasOf, exposureOf, matchesFilter, serviceKind } from '../view/service-view.js';

/**
 * Rows per page of the list (KubeSphere pages its lists too): the page count and position live in the
 * URL (`?page=2`); search and label filters apply to every service, then the result is paged.
 */
export const PAGE_SIZE = 50;

/** The Create dialog's five ways (KubeSphere's), each a URL of its own. */
export const CREATE_KINDS = [
  { kind: 'stateless', label: 'Stateless service' },
  { kind: 'stateful', label: 'Stateful service' },
  { kind: 'external', label: 'External service' },
  { kind: 'workloads', label: 'Specify workloads' },
  { kind: 'yaml', label: 'Edit by YAML' },
] as const;

/**
 * A grid's services, live: listed once, then followed through the watch stream (session/live.ts).
 * Search by name or alias and filter by labels; both live in the URL (`?q=web&label=tier=db`) so a
 * filtered list can be linked to and survives the back button.
 */
export function ServicesPage(): ReactNode {
  const { grid = 'default' } = useParams<{ grid: string }>();
  const { client, can } = useSession();
  const [params, setParams] = useSearchParams();
  const [creating, setCreating] = useState(false);
  const search = params.get('q') ?? '';
  const labels = params.get('label') ?? '';
  const { items, error } = useLiveList<Service>(
    () => client.listServicesAt(grid),
    (s) => s.name,
    (e) => (e.kind === 'service' && e.object.grid === grid ? { op: e.op, item: e.object } : undefined),
    [grid],
  );
  // Typing in a filter replaces the history entry and goes back to page 1; a page change is a step of its own (Back returns to it).
  const setParam = (key: string, value: string): void =>
    setParams(
      (p) => {
        if (value) p.set(key, value);
        else p.delete(key);
        if (key !== 'page') p.delete('page');
        return p;
      },
      { replace: key !== 'page' },
    );
  const matching = (items ?? []).filter((s) => matchesFilter(s, search, labels)).sort((a, b) => a.name.localeCompare(b.name));
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  const page = Math.min(pages, Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1));
  const shown = matching.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  const goTo = (n: number): void => setParam('page', n === 1 ? '' : String(n));
  return (
    <section className="pad">
      <div className="page-head">
        <h1>
          Services <span className="muted">in {grid}</span>
        </h1>
        {can('operate', grid) && (
          <div className="menu-anchor">
            <button type="button" className="primary" aria-haspopup="menu" aria-expanded={creating} onClick={() => setCreating(!creating)}>
              Create
            </button>
            {creating && (
              <ul role="menu" className="menu" aria-label="Create a service">
                {CREATE_KINDS.map((k) => (
                  <li key={k.kind} role="none">
                    <Link role="menuitem" href={createUrl(grid, k.kind)}>
                      {k.label}
                    </Link>
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>
      <div className="filters">
        <label>
          Search <input type="search" value={search} onChange={(e) => setParam('q', e.target.value)} placeholder="name or alias" />
        </label>
        <label>
          Labels <input type="search" value={labels} onChange={(e) => setParam('label', e.target.value)} placeholder="tier=web,env" />
        </label>
      </div>
      <ErrorNote error={error} />
      {items === undefined && !error && <p className="muted">Loading…</p>}
      {items !== undefined && shown.length === 0 && <p className="muted">{items.length === 0 ? 'No services in this grid yet.' : 'No service matches.'}</p>}
      {matching.length > 0 && (
        <p className="muted small" role="status">
          {matching.length === (items?.length ?? 0) ? `${matching.length} service${matching.length === 1 ? '' : 's'}` : `${matching.length} of ${items?.length ?? 0} services match`}
          {pages > 1 && `, ${(page - 1) * PAGE_SIZE + 1}–${(page - 1) * PAGE_SIZE + shown.length} shown`}
        </p>
      )}
      {shown.length > 0 && (
        <div className="table-scroll">
          <table className="list" aria-label={`Services in ${grid}`}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">State</th>
                <th scope="col">Instances</th>
                <th scope="col">Virtual IP</th>
                <th scope="col">Exposed</th>
                <th scope="col">Created</th>
                {can('operate', grid) && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <ServiceRow key={s.name} service={s} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pages > 1 && (
        <nav className="pager" aria-label="Pages of services">
          <button type="button" disabled={page <= 1} onClick={() => goTo(page - 1)}>
            Previous
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button type="button" disabled={page >= pages} onClick={() => goTo(page + 1)}>
            Next
          </button>
        </nav>
      )}
    </section>
  );
}

function ServiceRow({ service: s }: { readonly service: Service }): ReactNode {
  const alias = aliasOf(s);
  const canOperate = useSession().can('operate', s.grid);
  return (
    <tr data-service={s.name}>
      <td>
        <Link href={serviceUrl(s.grid, s.name)}>{s.name}</Link>
        {alias && <div className="muted small">{alias}</div>}
      </td>
      <td>{serviceKind(s.spec)}</td>
      <td>
        <span className={`phase phase-${s.status.phase}`}>{s.status.phase}</span>
      </td>
      <td>
        {s.status.runningInstances}/{s.status.desiredInstances}
      </td>
      <td>{accessOf(s.spec)}</td>
      <td>{exposureOf(s.spec).join(', ') || '—'}</td>
      <td>
        <RelativeTime iso={s.createdAt} />
      </td>
      {canOperate && (
        <td>
          <ServiceEditLinks grid={s.grid} name={s.name} compact />
        </td>
      )}
    </tr>
  );
}
