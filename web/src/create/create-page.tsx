import type { ReactNode } from 'react';
import { Link, useParams } from 'wouter';
import { servicesUrl } from '../urls.js';
import { useSession } from '../session/session.js';
import { ExternalCreateForm, SelectorCreateForm } from './simple-forms.js';
import { WorkloadCreateForm } from './workload-form.js';
import { YamlCreateForm } from './yaml-create.js';
import './create.css';

/** The Create dialog's five ways (KubeSphere's), by the `:kind` of `/grids/:grid/services/new/:kind`. */
const TITLES: Record<string, string> = {
  stateless: 'Create a stateless service',
  stateful: 'Create a stateful service',
  external: 'Create an external service',
  workloads: 'Create a service for existing workloads',
  yaml: 'Create a service from YAML',
};

/**
 * `/grids/:grid/services/new/:kind` (docs/console.md, "Create"): the Create dialog of one kind, as a page
 * of its own so that it can be linked to and the back button leaves it. Cancel returns to the list; a
 * created service opens its page. Only for a role that may operate in the grid (the API refuses
 * others anyway).
 */
export function CreatePage(): ReactNode {
  const { grid = 'default', kind = '' } = useParams<{ grid: string; kind: string }>();
  const { can } = useSession();
  const title = TITLES[kind];
  if (!title) {
    return (
      <section className="pad">
        <h1>No such way to create a service</h1>
        <p>
          “{kind}” is not one of stateless, stateful, external, workloads or yaml. <Link href={servicesUrl(grid)}>Back to the services</Link>.
        </p>
      </section>
    );
  }
  return (
    <section className="pad create-page">
      <p className="crumbs">
        <Link href={servicesUrl(grid)}>Services in {grid}</Link> /
      </p>
      <h1>{title}</h1>
      {!can('operate', grid) ? (
        <p role="alert" className="error">
          Your role cannot create services in {grid}: creating needs operator (or admin) there.
        </p>
      ) : kind === 'stateless' || kind === 'stateful' ? (
        <WorkloadCreateForm key={kind} grid={grid} kind={kind} />
      ) : kind === 'external' ? (
        <ExternalCreateForm grid={grid} />
      ) : kind === 'workloads' ? (
        <SelectorCreateForm grid={grid} />
      ) : (
        <YamlCreateForm grid={grid} />
      )}
    </section>
  );
}
