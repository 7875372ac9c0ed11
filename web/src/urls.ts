/*
 * The console's URLs, one function each, so that a page links to another without importing it
 * (routes.ts imports the pages; the pages import only this).
 */

/** The URL of a grid's services list. */
export const servicesUrl = (grid: string): string => `/grids/${encodeURIComponent(grid)}/services`;
/** The URL of a service's detail page (a tab: `instances`, `timeline`, `history`). */
export const serviceUrl = (grid: string, name: string, tab?: string): string => `${servicesUrl(grid)}/${encodeURIComponent(name)}${tab ? `/${tab}` : ''}`;
/** The URL of the Create dialog of one kind (stateless, stateful, external, workloads, yaml). */
export const createUrl = (grid: string, kind: string): string => `${servicesUrl(grid)}/new/${kind}`;
