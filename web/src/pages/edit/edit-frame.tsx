import type { ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { RelativeTime } from '../../components/relative-time.js';
import { serviceUrl } from '../../urls.js';
import { conflictDiff } from './conflict.js';
import type { FormModel } from './form-model.js';
import { OperateGate } from './operate-gate.js';
import type { FormError, ServiceFormState } from './use-service-form.js';
import './edit.css';

/** Back to where the user came from (Cancel), or to the service's page when the edit page was opened directly. */
export function useBack(grid: string, name: string): () => void {
  const [, navigate] = useLocation();
  return () => {
    if (window.history.length > 1) window.history.back();
    else navigate(serviceUrl(grid, name));
  };
}

/** The API's message and, for SPEC_INVALID, each field's message. */
export function FormErrorNote({ error }: { readonly error: FormError | undefined }): ReactNode {
  if (!error) return null;
  return (
    <div role="alert" className="error edit-error">
      <p>{error.message}</p>
      {error.causes.length > 0 && (
        <ul>
          {error.causes.map((c, i) => (
            <li key={i}>{c.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * The frame of an edit page (docs/console.md, "Edit …"): title, the service and the version read, the form
 * (`children`), what saving does (`effect`), Cancel and Save; after a 409 the conflict with the current
 * version's values beside the user's, and Re-apply / Discard. A viewer gets the reason instead.
 */
export function EditFrame<V extends object>(props: {
  readonly grid: string;
  readonly name: string;
  readonly title: string;
  readonly form: FormModel<V>;
  readonly state: ServiceFormState<V>;
  readonly effect: string;
  readonly children: ReactNode;
}): ReactNode {
  const { grid, name, title, form, state, effect } = props;
  const back = useBack(grid, name);
  return (
    <section className="pad edit-page">
      <h1>
        {title} <span className="muted">{name}</span>
      </h1>
      <p className="muted small">
        {/* Every field an edit page changes is in effect once stored (form-model.ts), so a save never asks for a deploy. */}
        Service <Link href={serviceUrl(grid, name)}>{name}</Link> in grid {grid}
        {state.base && (
          <>
            {' '}
            · version {state.base.version}, generation {state.base.generation}, updated <RelativeTime iso={state.base.updatedAt} />
          </>
        )}
      </p>
      <OperateGate grid={grid} name={name}>
        <FormErrorNote error={state.loadError} />
        {!state.values && !state.loadError && <p className="muted">Loading…</p>}
        {state.values && (
          <form
            className="edit-form card"
            aria-label={title}
            onSubmit={(e) => {
              e.preventDefault();
              void state.save();
            }}
          >
            {state.conflict && <ConflictPanel form={form} state={state} />}
            {props.children}
            <p className="edit-effect small">{effect}</p>
            <FormErrorNote error={state.error} />
            {state.saved && (
              <p role="status" className="edit-saved">
                Saved: generation {state.saved.generation}, version {state.saved.version}. In effect now (nothing to deploy).
              </p>
            )}
            <div className="edit-actions">
              <button type="button" onClick={back}>
                Cancel
              </button>
              <button type="submit" className="primary" disabled={state.saving || state.conflict !== undefined}>
                {state.saving ? 'Saving…' : 'Save'}
              </button>
            </div>
          </form>
        )}
      </OperateGate>
    </section>
  );
}

function ConflictPanel<V extends object>({ form, state }: { readonly form: FormModel<V>; readonly state: ServiceFormState<V> }): ReactNode {
  const current = state.conflict;
  if (!current || !state.values) return null;
  const diffs = conflictDiff(state.values, form.read(current.spec), form.describe);
  return (
    <div className="conflict" role="alert" aria-labelledby="conflict-title">
      <h2 id="conflict-title">Changed by someone else since you opened it</h2>
      <p className="small">
        The service is now at version {current.version} (generation {current.generation}, updated <RelativeTime iso={current.updatedAt} />); you opened version{' '}
        {state.base?.version}. Nothing was saved.
      </p>
      {diffs.length === 0 ? (
        <p className="small">The fields of this form hold the same values in both: the other change was elsewhere in the service.</p>
      ) : (
        <div className="table-scroll">
          <table className="list conflict-diff" aria-label="Your values and the current version's">
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Yours</th>
                <th scope="col">Current version</th>
              </tr>
            </thead>
            <tbody>
              {diffs.map((d) => (
                <tr key={d.field} data-field={d.field}>
                  <th scope="row">{form.labels[d.field] ?? d.field}</th>
                  <td className="mono">{d.mine}</td>
                  <td className="mono">{d.theirs}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="edit-actions">
        <button type="button" onClick={state.discard}>
          Discard my changes
        </button>
        <button type="button" className="primary" onClick={state.reapply}>
          Re-apply my changes on the current version
        </button>
      </div>
    </div>
  );
}
