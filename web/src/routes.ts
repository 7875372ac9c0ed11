import type { ComponentType } from 'react';
import { ServiceDetailPage } from './pages/detail/detail-page.js';
import { DeletePage } from './pages/edit/delete-page.js';
import { EditMetadataPage } from './pages/edit/edit-metadata-page.js';
import { EditServicePage } from './pages/edit/edit-service-page.js';
import { InternetAccessPage } from './pages/edit/internet-access-page.js';

/**
 * The pages beyond login, grids and the services list, each at its own path (wouter patterns,
 * e.g. `/grids/:grid/services/:name`). app.tsx renders them in this order and the first match wins:
 * literal paths (`…/new/:kind`, `…/:name/edit`) go before the patterns that would take them
 * (`…/:name/:tab?`). Pages link to each other through urls.ts, never through this file.
 */
export const CONSOLE_ROUTES: readonly { readonly path: string; readonly component: ComponentType }[] = [
  // The edit pages (docs/console-edit.md): literal sub-paths of a service.
  { path: '/grids/:grid/services/:name/edit', component: EditMetadataPage },
  { path: '/grids/:grid/services/:name/edit-service', component: EditServicePage },
  { path: '/grids/:grid/services/:name/internet-access', component: InternetAccessPage },
  { path: '/grids/:grid/services/:name/delete', component: DeletePage },
  // The service detail page and its tabs (`…/web`, `…/web/instances`, `/timeline`, `/history`). Keep it
  // AFTER the literal `…/services/new/:kind`: `new` is a valid service name, so only the order tells
  // the Create dialog from the page of a service named `new` (whose tab `stateless` does not exist).
  { path: '/grids/:grid/services/:name/:tab?', component: ServiceDetailPage },
];
