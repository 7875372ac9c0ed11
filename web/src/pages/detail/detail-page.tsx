import type { ReactNode } from 'react';
import { Link, useParams } from 'wouter';
import type { Instance, Service, ServiceEndpoints, ServiceExplanation } from '../../../../src/model/index.js';
import { ErrorNote } from '../../components/layout.js';
import { serviceUrl, servicesUrl } from '../../urls.js';
import { useSession } from '../../session/session.js';
import { aliasOf } from '../../view/service-view.js';
import { NotFoundPage } from '../not-found.js';
import './detail.css';
import { HistoryTab } from './history-tab.js';
import { healthOf, isLive, isReadyInstance } from './instance-view.js';
import { InstancesTab } from './instances-tab.js';
import { RolloutPanel } from './rollout-panel.js';
import { ServiceActions } from './service-actions.js';
import { Summary } from './summary.js';
import { Timeline } from './timeline.js';
import { useRefreshed } from './use-refreshed.js';
import { useServiceLive } from './use-service-live.js';
import { WhyPanel } from './why-panel.js';

/** The tabs, each a sub-path of the service's URL (the bare URL is the overview). */
export const DETAIL_TABS = [
  { tab: '', label: 'Overview' },
  { tab: 'instances', label: 'Instances' },
  { tab: 'timeline', label: 'Timeline' },
  { tab: 'history', label: 'History' },
] as const;

/**
 * A service's page (issue 12, "Service detail"), at `/grids/:grid/services/:name[/:tab]`: the header
 * (name, phase, actions) and the why panel on every tab, then the tab. Everything live comes from one
 * watch stream (useServiceLive); see docs/console.md, "Service detail" for each piece's source and the request budget.
 */
export function ServiceDetailPage(): ReactNode {
  const { grid = 'default', name = '', tab = '' } = useParams<{ grid: string; name: string; tab?: string }>();
  if (!DETAIL_TABS.some((t) => t.tab === tab)) return <NotFoundPage />;
  return <ServiceDetail key={`${grid}/${name}`} grid={grid} name={name} tab={tab} />;
}

function ServiceDetail({ grid, name, tab }: { readonly grid: string; readonly name: string; readonly tab: string }): ReactNode {
  const { client } = useSession();
  const { service, instances, error } = useServiceLive(grid, name);
  const whyKey = service && instances ? healthKey(service, instances) : undefined;
  const why = useRefreshed<ServiceExplanation>(() => client.why(grid, name), whyKey);
  const endpoints = useRefreshed<ServiceEndpoints>(() => client.endpoints(grid, name), service && instances ? readinessKey(service, instances) : undefined);
  const back = (
    <Link href={servicesUrl(grid)} className="small">
      ← Services in {grid}
    </Link>
  );
  if (service === null) {
    return (
      <section className="pad">
        {back}
        <h1>{name}</h1>
        <p className="muted">There is no service {name} in grid {grid} (or it was just removed).</p>
      </section>
    );
  }
  if (!service || !instances) {
    return (
      <section className="pad">
        {back}
        <h1>{name}</h1>
        <ErrorNote error={error} />
        {!error && <p className="muted">Loading…</p>}
      </section>
    );
  }
  const alias = aliasOf(service);
  return (
    <section className="pad detail">
      {back}
      <div className="page-head detail-head">
        <h1>
          {name} {alias && <span className="muted alias">{alias}</span>} <span className={`phase phase-${service.status.phase}`}>{service.status.phase}</span>
        </h1>
        <ServiceActions service={service} />
      </div>
      <ErrorNote error={error} />
      <WhyPanel explanation={why.value} error={why.error} />
      <RolloutPanel service={service} instances={instances} />
      <nav className="tabs" aria-label="Service sections">
        {DETAIL_TABS.map((t) => (
          <Link key={t.tab} href={serviceUrl(grid, name, t.tab || undefined)} aria-current={t.tab === tab ? 'page' : undefined} className={t.tab === tab ? 'active' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === '' && <Summary service={service} instances={instances} endpoints={endpoints.value} />}
      {tab === 'instances' && <InstancesTab service={service} instances={instances} />}
      {tab === 'timeline' && <Timeline grid={grid} name={name} />}
      {tab === 'history' && <HistoryTab service={service} />}
    </section>
  );
}

/** What the why panel depends on: the service's intent and status, each instance's state and health. */
function healthKey(s: Service, instances: readonly Instance[]): string {
  const u = s.status.update;
  const parts = [s.version, s.desired, s.status.phase, s.status.message, u ? `${u.state}/${u.generation}/${u.updatedInstances}/${u.failedInstances.length}` : '', s.status.conditions?.map((c) => c.status).join() ?? ''];
  for (const i of [...instances].sort((a, b) => a.id.localeCompare(b.id))) parts.push(`${i.id}:${i.status.state}:${i.desiredState}:${healthOf(i)}:${i.restarts}`);
  return parts.join('|');
}

/** What the endpoints depend on: the spec, and which instances are live and which of them ready. */
function readinessKey(s: Service, instances: readonly Instance[]): string {
  return [s.version, ...instances.filter(isLive).map((i) => `${i.id}:${isReadyInstance(i)}`).sort()].join('|');
}
