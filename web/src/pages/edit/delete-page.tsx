import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { Link, useParams } from 'wouter';
import { isApiError } from '../../../../src/client/index.js';
import type { Instance, Service, SlotVolume } from '../../../../src/model/index.js';
import { RelativeTime } from '../../components/relative-time.js';
import { servicesUrl } from '../../urls.js';
import { useSession } from '../../session/session.js';
import type { DeleteOutcome } from './delete-plan.js';
import { deleteOutcome, deletePlan, deleteRequest } from './delete-plan.js';
import { FormErrorNote, useBack } from './edit-frame.js';
import { OperateGate } from './operate-gate.js';
import type { FormError } from './use-service-form.js';
import { formErrorOf } from './use-service-form.js';
import './edit.css';

interface Loaded {
  readonly service: Service;
  readonly instances: readonly Instance[];
  readonly volumes: readonly SlotVolume[];
}

/**
 * Delete at `/grids/:grid/services/:name/delete` (docs/console.md, "Edit …", "Delete"): the associated
 * resources with checkboxes, as KubeSphere's dialog. The per-slot data of a stateful service is the
 * one choice (kept unless ticked: `DELETE …?volumes=true` only then); instances, addresses and ports,
 * DNS names and hand-set endpoints exist only for the service and go with it (ticked, disabled). After
 * the request the page says what was removed and what was kept, and when the service is gone.
 */
export function DeletePage(): ReactNode {
  const { grid = 'default', name = '' } = useParams<{ grid: string; name: string }>();
  return (
    <section className="pad edit-page">
      <h1>
        Delete <span className="muted">{name}</span>
      </h1>
      <OperateGate grid={grid} name={name}>
        <DeleteForm grid={grid} name={name} />
      </OperateGate>
    </section>
  );
}

function DeleteForm({ grid, name }: { readonly grid: string; readonly name: string }): ReactNode {
  const { client } = useSession();
  const back = useBack(grid, name);
  const [loaded, setLoaded] = useState<Loaded>();
  const [loadError, setLoadError] = useState<FormError>();
  const [tickedData, setTickedData] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<FormError>();
  const [conflict, setConflict] = useState<Service>();
  const [done, setDone] = useState<DeleteOutcome>();
  const [gone, setGone] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    const volumes = client.listVolumes(grid, { service: name }).catch((e: unknown) => {
      if (isApiError(e, 'ROUTE_NOT_FOUND')) return [];
      throw e;
    });
    Promise.all([client.getService(grid, name), client.listInstances(grid, name, { active: true }), volumes]).then(
      ([service, instances, vols]) => live && setLoaded({ service, instances, volumes: vols }),
      (e: unknown) => live && setLoadError(formErrorOf(e)),
    );
    return () => {
      live = false;
    };
  }, [client, grid, name, reload]);

  if (loadError) return <FormErrorNote error={loadError} />;
  if (!loaded) return <p className="muted">Loading…</p>;
  const plan = deletePlan(loaded.service, loaded.instances, loaded.volumes);

  const remove = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const removing = await client.removeService(grid, name, deleteRequest(loaded.service, tickedData));
      setDone(deleteOutcome(name, plan, tickedData));
      void followUntilGone(removing);
    } catch (e) {
      if (isApiError(e, 'VERSION_CONFLICT')) {
        setConflict(await client.getService(grid, name).catch(() => undefined));
        setReload((n) => n + 1);
      } else setError(formErrorOf(e));
    } finally {
      setBusy(false);
    }
  };

  // The record goes once the instances are gone: follow the watch stream from the removal on (no polling).
  const followUntilGone = async (removing: Service): Promise<void> => {
    const stop = new AbortController();
    try {
      for await (const e of client.watch({ fromRevision: removing.version + 1, signal: stop.signal })) {
        if (e.kind === 'service' && e.op === 'delete' && e.object.grid === grid && e.object.name === name) {
          setGone(true);
          stop.abort();
        }
      }
    } catch {
      // The page says "removing" until then; the list shows the truth.
    }
  };

  if (done) {
    return (
      <div className="card delete-done" role="status" aria-live="polite">
        <p>
          <strong>{gone ? `Service ${name} deleted.` : `Deleting ${name}: its instances are stopping…`}</strong>
        </p>
        <p>Removed with it:</p>
        <ul>
          {done.removed.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
        {done.kept.length > 0 && (
          <>
            <p>Kept:</p>
            <ul data-testid="kept">
              {done.kept.map((k) => (
                <li key={k} className="mono">
                  {k}
                </li>
              ))}
            </ul>
          </>
        )}
        {done.hint && (
          <p className="small">
            {done.hint.split('`').map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}
          </p>
        )}
        <Link href={servicesUrl(grid)}>Back to the services</Link>
      </div>
    );
  }

  const { service } = loaded;
  return (
    <form
      className="edit-form card"
      aria-label={`Delete ${name}`}
      onSubmit={(e) => {
        e.preventDefault();
        void remove();
      }}
    >
      {conflict && (
        <div className="conflict" role="alert">
          <h2>Changed by someone else since you opened it</h2>
          <p className="small">
            The service is now at version {conflict.version} (generation {conflict.generation}, updated <RelativeTime iso={conflict.updatedAt} />). Nothing was deleted; the resources
            below are read again: check them and delete again.
          </p>
        </div>
      )}
      <p>
        Delete service <strong>{name}</strong> in grid {grid} (version {service.version})? When you delete a service, these resources are associated with it. Ticked ones are deleted
        together with the service; what is left unticked is kept.
      </p>
      <ul className="delete-groups">
        {plan.map((r) => (
          <li key={r.kind} data-resource={r.kind}>
            <label>
              <input type="checkbox" checked={r.optional ? tickedData : true} disabled={!r.optional} onChange={(e) => setTickedData(e.target.checked)} aria-describedby={`why-${r.kind}`} />
              <span>
                <strong>{r.title}</strong>
                <span className="muted small" id={`why-${r.kind}`}>
                  {' '}
                  — {r.why}
                </span>
              </span>
            </label>
            <ul>
              {r.items.map((item) => (
                <li key={item} className="mono small">
                  {item}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
      <FormErrorNote error={error} />
      <div className="edit-actions">
        <button type="button" onClick={back}>
          Cancel
        </button>
        <button type="submit" className="danger" disabled={busy}>
          {busy ? 'Deleting…' : 'Delete'}
        </button>
      </div>
    </form>
  );
}
