import { Suspense, createElement, lazy } from 'react';
import type { ComponentType, ReactNode } from 'react';

/**
 * The pages beyond login, grids and the services list, each at its own path (wouter patterns,
 * e.g. `/grids/:grid/services/:name`). Each feature adds its entries here; app.tsx renders them in
 * this order (the first match wins, so put literal paths such as `…/new/:kind` before `…/:name`).
 */
export const CONSOLE_ROUTES: readonly { readonly path: string; readonly component: ComponentType }[] = [
  // The Create dialog (web/src/create/, docs/console-create.md): its own script, loaded when opened.
  { path: '/grids/:grid/services/new/:kind', component: lazyPage(() => import('./create/create-page.js').then((m) => ({ default: m.CreatePage }))) },
];

/** A page whose script is loaded on first visit (a chunk of its own), with a note while it loads. */
function lazyPage(load: () => Promise<{ default: ComponentType }>): ComponentType {
  const Page = lazy(load);
  return function LazyPage(): ReactNode {
    return createElement(Suspense, { fallback: createElement('p', { className: 'muted pad' }, 'Loading…') }, createElement(Page));
  };
}

/** The URL of a grid's services list. */
export const servicesUrl = (grid: string): string => `/grids/${encodeURIComponent(grid)}/services`;
/** The URL of a service's detail page (a tab: `/instances`, `/timeline` …). */
export const serviceUrl = (grid: string, name: string, tab?: string): string => `${servicesUrl(grid)}/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;
/** The URL of the Create dialog of one kind (stateless, stateful, external, workloads, yaml). */
export const createUrl = (grid: string, kind: string): string => `${servicesUrl(grid)}/new/${kind}`;
