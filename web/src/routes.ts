import type { ComponentType } from 'react';
import { ServiceDetailPage } from './pages/detail/detail-page.js';

/**
 * The pages beyond login, grids and the services list, each at its own path (wouter patterns,
 * e.g. `/grids/:grid/services/:name`). Each feature adds its entries here; app.tsx renders them in
 * this order (the first match wins, so put literal paths such as `…/new/:kind` before `…/:name`).
 */
export const CONSOLE_ROUTES: readonly { readonly path: string; readonly component: ComponentType }[] = [
  // The service detail page and its tabs (`…/web`, `…/web/instances`, `/timeline`, `/history`). Keep it
  // AFTER the literal `…/services/new/:kind`: `new` is a valid service name, so only the order tells
  // the Create dialog from the page of a service named `new` (whose tab `stateless` does not exist).
  { path: '/grids/:grid/services/:name/:tab?', component: ServiceDetailPage },
];

/** The URL of a grid's services list. */
export const servicesUrl = (grid: string): string => `/grids/${encodeURIComponent(grid)}/services`;
/** The URL of a service's detail page (a tab: `/instances`, `/timeline` …). */
export const serviceUrl = (grid: string, name: string, tab?: string): string => `${servicesUrl(grid)}/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;
/** The URL of the Create dialog of one kind (stateless, stateful, external, workloads, yaml). */
export const createUrl = (grid: string, kind: string): string => `${servicesUrl(grid)}/new/${kind}`;
