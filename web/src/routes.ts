import type { ComponentType } from 'react';
import { DeletePage } from './pages/edit/delete-page.js';
import { EditMetadataPage } from './pages/edit/edit-metadata-page.js';
import { EditServicePage } from './pages/edit/edit-service-page.js';
import { InternetAccessPage } from './pages/edit/internet-access-page.js';

/**
 * The pages beyond login, grids and the services list, each at its own path (wouter patterns,
 * e.g. `/grids/:grid/services/:name`). Each feature adds its entries here; app.tsx renders them in
 * this order (the first match wins, so put literal paths such as `…/new/:kind` before `…/:name`).
 */
export const CONSOLE_ROUTES: readonly { readonly path: string; readonly component: ComponentType }[] = [
  // The edit pages (docs/console-edit.md): literal sub-paths of a service, so they must stay BEFORE any
  // `/grids/:grid/services/:name/:tab` pattern (the detail page's tabs), which would match them first.
  // (These pages import the URL helpers below: a module cycle that is safe, as both sides use the
  // other's exports only when rendering, never while the modules load.)
  { path: '/grids/:grid/services/:name/edit', component: EditMetadataPage },
  { path: '/grids/:grid/services/:name/edit-service', component: EditServicePage },
  { path: '/grids/:grid/services/:name/internet-access', component: InternetAccessPage },
  { path: '/grids/:grid/services/:name/delete', component: DeletePage },
];

/** The URL of a grid's services list. */
export const servicesUrl = (grid: string): string => `/grids/${encodeURIComponent(grid)}/services`;
/** The URL of a service's detail page (a tab: `/instances`, `/timeline` …). */
export const serviceUrl = (grid: string, name: string, tab?: string): string => `${servicesUrl(grid)}/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;
/** The URL of the Create dialog of one kind (stateless, stateful, external, workloads, yaml). */
export const createUrl = (grid: string, kind: string): string => `${servicesUrl(grid)}/new/${kind}`;
