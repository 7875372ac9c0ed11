import { Suspense, createElement, lazy } from 'react';
import type { ComponentType, ReactNode } from 'react';

/**
 * The pages beyond login, grids and the services list, each at its own path (wouter patterns,
 * e.g. `/grids/:grid/services/:name`, or a RegExp with named groups). app.tsx renders them in this
 * order and the first match wins: literal paths (`…/new/stateless`, `…/:name/edit`) go before the
 * patterns that would take them (`…/:name/:tab?`). Each page is a script of its own, loaded on first
 * visit, so the services list — the first page most people see — loads only what it needs. Pages
 * link to each other through urls.ts, never through this file.
 */
export const CONSOLE_ROUTES: readonly { readonly path: string | RegExp; readonly component: ComponentType }[] = [
  // The Create dialog (web/src/create/, docs/console.md, "Create"), for its five kinds only: `new` is a
  // valid service name, and `…/new/instances` is the Instances tab of a service named `new`.
  {
    path: /^\/grids\/(?<grid>[^/]+)\/services\/new\/(?<kind>stateless|stateful|external|workloads|yaml)\/?$/,
    component: lazyPage(() => import('./create/create-page.js').then((m) => ({ default: m.CreatePage }))),
  },
  // The edit pages (docs/console.md, "Edit …"): literal sub-paths of a service.
  { path: '/grids/:grid/services/:name/edit', component: lazyPage(() => import('./pages/edit/edit-metadata-page.js').then((m) => ({ default: m.EditMetadataPage }))) },
  { path: '/grids/:grid/services/:name/edit-service', component: lazyPage(() => import('./pages/edit/edit-service-page.js').then((m) => ({ default: m.EditServicePage }))) },
  { path: '/grids/:grid/services/:name/internet-access', component: lazyPage(() => import('./pages/edit/internet-access-page.js').then((m) => ({ default: m.InternetAccessPage }))) },
  { path: '/grids/:grid/services/:name/edit-yaml', component: lazyPage(() => import('./pages/edit/edit-yaml-page.js').then((m) => ({ default: m.EditYamlPage }))) },
  { path: '/grids/:grid/services/:name/delete', component: lazyPage(() => import('./pages/edit/delete-page.js').then((m) => ({ default: m.DeletePage }))) },
  // The service detail page and its tabs (`…/web`, `…/web/instances`, `/timeline`, `/history`).
  { path: '/grids/:grid/services/:name/:tab?', component: lazyPage(() => import('./pages/detail/detail-page.js').then((m) => ({ default: m.ServiceDetailPage }))) },
];

/** A page whose script is loaded on first visit (a chunk of its own), with a note while it loads. */
function lazyPage(load: () => Promise<{ default: ComponentType }>): ComponentType {
  const Page = lazy(load);
  return function LazyPage(): ReactNode {
    return createElement(Suspense, { fallback: createElement('p', { className: 'muted pad' }, 'Loading…') }, createElement(Page));
  };
}
