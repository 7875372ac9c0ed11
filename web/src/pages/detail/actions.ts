import type { ComponentType } from 'react';
import type { Service } from '../../../../src/model/index.js';
import { EditActions } from '../edit/service-edit-links.js';

/** What an action button of the detail page's header gets. */
export interface ServiceActionProps {
  /** The live service (its `version` is the one to send with a write). */
  readonly service: Service;
  /** True when the signed-in identity may operate this service (`can('operate', grid, name)`). */
  readonly canOperate: boolean;
}

/**
 * The extension point of the detail page's header (issue 12): actions beyond the page's own Scale,
 * Restart, Stop/Start and Deploy (e.g. Edit and Delete dialogs) add an entry here; the header renders
 * each entry's component, in this order, after the page's own buttons. A component decides itself
 * what to show a viewer (`canOperate` false: usually nothing).
 */
export const SERVICE_ACTIONS: readonly { readonly id: string; readonly component: ComponentType<ServiceActionProps> }[] = [
  // Edit, Edit Service, Edit Internet Access, Delete (docs/console.md, "Edit …"); nothing for a viewer.
  { id: 'edit', component: EditActions },
];
