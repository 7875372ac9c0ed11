import type { ReactNode } from 'react';
import { Link, useParams } from 'wouter';
import { EditFrame } from './edit-frame.js';
import type { InternetValues } from './internet-form.js';
import { internetForm } from './internet-form.js';
import { editServiceUrl } from './edit-urls.js';
import { useServiceForm } from './use-service-form.js';

const TYPES: readonly { readonly type: InternetValues['type']; readonly label: string; readonly help: string }[] = [
  { type: 'ClusterIP', label: 'None', help: 'Reachable inside berth only (virtual IP and DNS)' },
  { type: 'NodePort', label: 'NodePort', help: 'Each port also served on the node\'s address at a node port (30000-32767)' },
  { type: 'LoadBalancer', label: 'LoadBalancer', help: 'As NodePort, and each port served at its own number on the node\'s load-balancer addresses' },
];

/**
 * Edit Internet Access at `/grids/:grid/services/:name/internet-access`: None (ClusterIP), NodePort
 * (a node port per service port, blank = allocated by the server) or LoadBalancer; published ports;
 * external IPs. The network face: in effect once stored.
 */
export function InternetAccessPage(): ReactNode {
  const { grid = 'default', name = '' } = useParams<{ grid: string; name: string }>();
  const state = useServiceForm(grid, name, internetForm);
  const v = state.values;
  const spec = state.base?.spec;
  const setAt = (key: 'nodePorts' | 'published', i: number, text: string): void => state.setValues((x) => ({ ...x, [key]: x[key].map((n, j) => (j === i ? text : n)) }));
  return (
    <EditFrame grid={grid} name={name} title="Edit Internet Access" form={internetForm} state={state} effect="Applies at once when saved: the listeners open or close as soon as the change is stored; no instance is restarted.">
      {v && spec && spec.type === 'ExternalName' && <p className="edit-note">An ExternalName service is a DNS alias of {spec.externalName}: nothing is served, so it has no Internet access.</p>}
      {v && spec && spec.type !== 'ExternalName' && (
        <>
          <fieldset>
            <legend>Internet access</legend>
            <div className="choices">
              {TYPES.map((t) => (
                <label key={t.type}>
                  <input type="radio" name="type" checked={v.type === t.type} onChange={() => state.setValues((x) => ({ ...x, type: t.type }))} /> {t.label}
                </label>
              ))}
            </div>
            <p className="muted small">{TYPES.find((t) => t.type === v.type)?.help}</p>
          </fieldset>
          <fieldset>
            <legend>Ports</legend>
            {spec.ports.length === 0 && (
              <p className="muted small">
                The service has no ports of its own (the containers' ports are served): add them in <Link href={editServiceUrl(grid, name)}>Edit Service</Link> to give them node or published ports.
              </p>
            )}
            {spec.ports.map((p, i) => (
              <div className="row-line" key={i} data-port={i}>
                <span className="mono">
                  {p.name ? `${p.name} ` : ''}
                  {p.port}/{p.protocol}
                </span>
                <label>
                  Node port
                  <input aria-label={`Node port of ${p.port}/${p.protocol}`} inputMode="numeric" placeholder={v.type === 'ClusterIP' ? '—' : 'allocated'} disabled={v.type === 'ClusterIP'} value={v.type === 'ClusterIP' ? '' : (v.nodePorts[i] ?? '')} onChange={(e) => setAt('nodePorts', i, e.target.value)} />
                </label>
                <label>
                  Published port
                  <input aria-label={`Published port of ${p.port}/${p.protocol}`} inputMode="numeric" placeholder="none" value={v.published[i] ?? ''} onChange={(e) => setAt('published', i, e.target.value)} />
                </label>
              </div>
            ))}
          </fieldset>
          <label className="block">
            External IPs
            <input value={v.externalIPs} placeholder="e.g. 127.0.0.50, 127.0.0.51" onChange={(e) => state.setValues((x) => ({ ...x, externalIPs: e.target.value }))} />
          </label>
        </>
      )}
    </EditFrame>
  );
}
