import { serviceUrl } from '../../urls.js';

/** The edit pages' URLs: literal sub-paths of the service, listed before the detail page's `/:tab`. */
export const editUrl = (grid: string, name: string): string => serviceUrl(grid, name, 'edit');
export const editServiceUrl = (grid: string, name: string): string => serviceUrl(grid, name, 'edit-service');
export const internetAccessUrl = (grid: string, name: string): string => serviceUrl(grid, name, 'internet-access');
export const editYamlUrl = (grid: string, name: string): string => serviceUrl(grid, name, 'edit-yaml');
export const deleteUrl = (grid: string, name: string): string => serviceUrl(grid, name, 'delete');
