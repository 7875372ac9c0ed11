import type { ReactNode } from 'react';
import { useParams } from 'wouter';
import { EditFrame } from './edit-frame.js';
import { RowsEditor } from './rows-editor.js';
import type { PortRow } from './service-form.js';
import { hasSelector, serviceForm } from './service-form.js';
import { useServiceForm } from './use-service-form.js';

/**
 * Edit Service at `/grids/:grid/services/:name/edit-service`: the access type (Virtual IP or Headless),
 * the selector of a service without containers, and the service ports. All are the network face: in
 * effect once stored, no deploy (docs/spec.md). The server keeps the allocated virtual IP, allocates a
 * new one when a headless service becomes Virtual IP, and refuses what it cannot do with its message.
 */
export function EditServicePage(): ReactNode {
  const { grid = 'default', name = '' } = useParams<{ grid: string; name: string }>();
  const state = useServiceForm(grid, name, serviceForm);
  const v = state.values;
  const spec = state.base?.spec;
  const setPort = (i: number, patch: Partial<PortRow>): void => state.setValues((x) => ({ ...x, ports: x.ports.map((p, j) => (j === i ? { ...p, ...patch } : p)) }));
  return (
    <EditFrame grid={grid} name={name} title="Edit Service" form={serviceForm} state={state} effect="Applies at once when saved: the access type, selector and ports are the service's network face, served as soon as they are stored; no instance is restarted.">
      {v && spec && (
        <>
          {spec.type === 'ExternalName' ? (
            <p className="edit-note">An ExternalName service is a DNS alias of {spec.externalName}: it has no virtual IP.</p>
          ) : (
            <fieldset>
              <legend>Access type</legend>
              <div className="choices">
                <label>
                  <input type="radio" name="access" checked={v.access === 'virtual-ip'} onChange={() => state.setValues((x) => ({ ...x, access: 'virtual-ip' }))} /> Virtual IP
                </label>
                <label>
                  <input type="radio" name="access" checked={v.access === 'headless'} onChange={() => state.setValues((x) => ({ ...x, access: 'headless' }))} /> Headless
                </label>
              </div>
              {(spec.type === 'NodePort' || spec.type === 'LoadBalancer') && <p className="muted small">A {spec.type} service cannot be headless: set its Internet access to None first.</p>}
              <p className="muted small">
                {v.access === 'headless' ? 'DNS answers with the instances\' addresses; no virtual IP.' : `Clients connect to one virtual IP${spec.clusterIP && spec.clusterIP !== 'None' ? ` (${spec.clusterIP})` : ' (allocated when saved)'} balanced over the ready instances.`}
              </p>
            </fieldset>
          )}
          {hasSelector(spec) && (
            <fieldset>
              <legend>Selector</legend>
              <p className="muted small">Serves the instances of the grid's services carrying all of these labels.</p>
              <RowsEditor noun="Selector label" rows={v.selector} onChange={(selector) => state.setValues((x) => ({ ...x, selector }))} />
            </fieldset>
          )}
          <fieldset>
            <legend>Ports</legend>
            {v.ports.length === 0 && <p className="muted small">No service ports: the containers' ports are served.</p>}
            <div className="rows-editor">
              {v.ports.map((p, i) => (
                <div className="row-line" key={i} data-port={i}>
                  <label>
                    Name
                    <input aria-label={`Port ${i + 1} name`} placeholder="optional" value={p.name} onChange={(e) => setPort(i, { name: e.target.value })} />
                  </label>
                  <label className="narrow">
                    Protocol
                    <select aria-label={`Port ${i + 1} protocol`} value={p.protocol} onChange={(e) => setPort(i, { protocol: e.target.value === 'UDP' ? 'UDP' : 'TCP' })}>
                      <option>TCP</option>
                      <option>UDP</option>
                    </select>
                  </label>
                  <label className="narrow">
                    Port
                    <input aria-label={`Port ${i + 1} port`} inputMode="numeric" value={p.port} onChange={(e) => setPort(i, { port: e.target.value })} />
                  </label>
                  <label className="narrow">
                    Target port
                    <input aria-label={`Port ${i + 1} target port`} placeholder="= port" value={p.targetPort} onChange={(e) => setPort(i, { targetPort: e.target.value })} />
                  </label>
                  <button type="button" className="row-end" aria-label={`Remove port ${i + 1}`} onClick={() => state.setValues((x) => ({ ...x, ports: x.ports.filter((_, j) => j !== i) }))}>
                    Remove
                  </button>
                </div>
              ))}
              <button type="button" onClick={() => state.setValues((x) => ({ ...x, ports: [...x.ports, { name: '', protocol: 'TCP', port: '', targetPort: '' }] }))}>
                Add port
              </button>
            </div>
          </fieldset>
        </>
      )}
    </EditFrame>
  );
}
