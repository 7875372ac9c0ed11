import type { ReactNode } from 'react';
import type { Instance, Service, ServiceEndpoints } from '../../../../src/model/index.js';
import { RelativeTime } from '../../components/relative-time.js';
import { accessOf, aliasOf, exposureOf, serviceKind } from '../../view/service-view.js';
import { isReadyInstance, shownInstances } from './instance-view.js';

/** berth's DNS zone (docs/dns.md: `domain`, default `berth.local`). */
export const DNS_DOMAIN = 'berth.local';

/** The names berth's DNS answers for a service (docs/dns.md): the service's, and one per slot. */
export function dnsNames(service: Service, slots: readonly number[]): string[] {
  if (service.spec.type === 'ExternalName') return [`${service.name}.${service.grid}.${DNS_DOMAIN}`];
  return [`${service.name}.${service.grid}.${DNS_DOMAIN}`, ...slots.map((s) => `${service.name}-${s}.${service.grid}.${DNS_DOMAIN}`)];
}

/**
 * The overview's facts: identity, phase, versions, times, labels, network face (virtual IP, ports,
 * node / published / external addresses, DNS names) and the endpoints (`GET …/endpoints`, read again
 * when readiness changes).
 */
export function Summary({ service: s, instances, endpoints }: { readonly service: Service; readonly instances: readonly Instance[]; readonly endpoints: ServiceEndpoints | undefined }): ReactNode {
  const alias = aliasOf(s);
  const shown = shownInstances(instances).filter((i) => i.desiredState === 'running');
  const ready = shown.filter(isReadyInstance).length;
  const slots = [...new Set(shown.map((i) => i.slot))].sort((a, b) => a - b);
  const exposure = [...exposureOf(s.spec), ...(endpoints?.loadBalancerIPs ?? []).map((ip) => `${ip} (load balancer)`)];
  const labels = Object.entries(s.spec.labels);
  return (
    <section className="card summary" aria-label="Summary">
      <dl className="facts">
        <Fact term="Name">{s.name}</Fact>
        {alias && <Fact term="Alias">{alias}</Fact>}
        <Fact term="Kind">
          {serviceKind(s.spec)} <span className="muted small">({s.spec.type}{s.spec.mode === 'global' ? ', global' : ''})</span>
        </Fact>
        <Fact term="Phase">
          <span className={`phase phase-${s.status.phase}`}>{s.status.phase}</span>
          {s.status.message && <div className="muted small">{s.status.message}</div>}
        </Fact>
        <Fact term="Instances">
          <span data-testid="ready-count">
            {ready} of {s.status.desiredInstances} ready
          </span>
        </Fact>
        <Fact term="Generation">
          {s.generation}
          <span className="muted small">
            {' '}
            deployed {s.deployment?.generation ?? '—'}, observed {s.status.observedGeneration || '—'}, version {s.version}
          </span>
        </Fact>
        <Fact term="Created">
          <RelativeTime iso={s.createdAt} />
        </Fact>
        <Fact term="Updated">
          <RelativeTime iso={s.updatedAt} />
        </Fact>
        <Fact term="Labels">{labels.length ? labels.map(([k, v]) => <span key={k} className="tag">{v ? `${k}=${v}` : k}</span>) : '—'}</Fact>
        <Fact term={s.spec.type === 'ExternalName' ? 'External name' : 'Virtual IP'}>
          <span className="mono">{accessOf(s.spec)}</span>
        </Fact>
        <Fact term="Ports">
          {s.spec.ports.length
            ? s.spec.ports.map((p) => (
                <span key={`${p.port}/${p.protocol}`} className="tag mono">
                  {p.name ? `${p.name} ` : ''}
                  {p.port}/{p.protocol} → {String(p.targetPort)}
                </span>
              ))
            : '—'}
        </Fact>
        <Fact term="Exposed">{exposure.length ? exposure.map((e) => <span key={e} className="tag mono">{e}</span>) : '—'}</Fact>
        <Fact term="DNS names">
          <ul className="plain mono small">
            {dnsNames(s, slots).map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </Fact>
        <Fact term="Endpoints">
          {!endpoints ? (
            <span className="muted">—</span>
          ) : (
            <EndpointList endpoints={endpoints} />
          )}
        </Fact>
      </dl>
    </section>
  );
}

function EndpointList({ endpoints }: { readonly endpoints: ServiceEndpoints }): ReactNode {
  const fmt = (e: ServiceEndpoints['endpoints'][number]): string => {
    const ports = Object.values(e.ports);
    return ports.length ? ports.map((p) => `${e.ip}:${p}`).join(', ') : e.ip;
  };
  const ready = endpoints.endpoints.filter((e) => e.ready);
  const notReady = endpoints.endpoints.filter((e) => !e.ready);
  if (endpoints.endpoints.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="plain mono small" aria-label="Endpoints">
      {ready.map((e) => (
        <li key={`r-${e.ip}`} className="ok">
          {fmt(e)}
          {e.slot !== undefined && <span className="muted"> (#{e.slot})</span>}
        </li>
      ))}
      {notReady.map((e) => (
        <li key={`n-${e.ip}`} className="muted">
          {fmt(e)} not ready
        </li>
      ))}
    </ul>
  );
}

function Fact({ term, children }: { readonly term: string; readonly children: ReactNode }): ReactNode {
  return (
    <div className="fact">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
