import { useCallback, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { stringify } from 'yaml';
import { isApiError } from '../../../../src/client/index.js';
import type { Service } from '../../../../src/model/index.js';
import { deployStateOf } from '../../../../src/model/deploy-state.js';
import { RelativeTime } from '../../components/relative-time.js';
import { useSession } from '../../session/session.js';
import { serviceUrl } from '../../urls.js';
import type { FieldCause } from '../../yaml/index.js';
import { YamlEditor, locateErrors, readSpec } from '../../yaml/index.js';
import { OperateGate } from './operate-gate.js';
import '../../create/create.css';
import './edit.css';

/** The service as `berth service show NAME -o yaml` prints it, without the explanation (computed on read). */
export function serviceYaml(service: Service & { readonly explanation?: unknown }): string {
  const { explanation: _explanation, ...object } = service;
  return stringify(object, { lineWidth: 0 });
}

type Outcome =
  | { readonly kind: 'checked'; readonly text: string }
  | { readonly kind: 'refused'; readonly message: string; readonly causes: readonly FieldCause[] }
  | { readonly kind: 'conflict'; readonly current: Service }
  | { readonly kind: 'updated'; readonly service: Service; readonly deployed: boolean };

/**
 * Edit YAML (KubeSphere's "Edit YAML": view, download, upload, update; docs/console.md, "Edit …"): the
 * service as `show -o yaml` prints it. Check sends a dry run; Update sends the spec with the version
 * read (`PUT …?version`), then deploys it when its workload moved past what is deployed and "Deploy
 * the change" is ticked — as `berth service edit` does. The server's field errors show at their
 * lines; a change made meanwhile by someone else (409) shows the current version instead of
 * overwriting it.
 */
export function EditYamlPage(): ReactNode {
  const { grid = 'default', name = '' } = useParams<{ grid: string; name: string }>();
  const { client } = useSession();
  const [, navigate] = useLocation();
  const [base, setBase] = useState<Service>();
  const [text, setText] = useState('');
  const [loadError, setLoadError] = useState<string>();
  const [deploy, setDeploy] = useState(true);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();

  const load = useCallback(() => {
    client.getService(grid, name).then(
      (s) => {
        setBase(s);
        setText(serviceYaml(s));
        setOutcome(undefined);
      },
      (e: unknown) => setLoadError(e instanceof Error ? e.message : String(e)),
    );
  }, [client, grid, name]);
  useEffect(load, [load]);

  const read = readSpec(text);
  const errors = !read.ok ? [...read.errors] : outcome?.kind === 'refused' ? locateErrors(text, outcome.causes) : [];

  const send = async (dryRun: boolean, version: number): Promise<void> => {
    if (!read.ok) return;
    if (read.spec.name !== name) {
      setOutcome({ kind: 'refused', message: `the name is ${name}: a service cannot be renamed (create a new one by YAML instead)`, causes: [{ field: 'spec.name', message: `must stay "${name}": a service cannot be renamed` }] });
      return;
    }
    setBusy(true);
    try {
      const updated = await client.updateService(grid, name, read.spec, { version, dryRun });
      if (dryRun) setOutcome({ kind: 'checked', text });
      else {
        const state = deployStateOf(updated);
        const deployed = deploy && state.kind === 'behind' ? await client.deploy(grid, name, { version: updated.version }) : undefined;
        setBase(deployed ?? updated);
        setText(serviceYaml(deployed ?? updated));
        setOutcome({ kind: 'updated', service: deployed ?? updated, deployed: deployed !== undefined });
      }
    } catch (e) {
      if (isApiError(e, 'VERSION_CONFLICT')) {
        const current = await client.getService(grid, name).catch(() => undefined);
        if (current) setOutcome({ kind: 'conflict', current });
        else setOutcome({ kind: 'refused', message: e.message, causes: [] });
      } else {
        const causes = isApiError(e) ? e.causes : [];
        setOutcome({ kind: 'refused', message: e instanceof Error ? e.message : String(e), causes });
      }
    }
    setBusy(false);
  };

  return (
    <section className="pad edit-page">
      <h1>
        Edit YAML <span className="muted">{name}</span>
      </h1>
      <p className="muted small">
        Service <Link href={serviceUrl(grid, name)}>{name}</Link> in grid {grid}
        {base && (
          <>
            {' '}
            · version {base.version}, generation {base.generation}, updated <RelativeTime iso={base.updatedAt} />
          </>
        )}
      </p>
      <OperateGate grid={grid} name={name}>
        {loadError && (
          <p role="alert" className="error">
            {loadError}
          </p>
        )}
        {!base && !loadError && <p className="muted">Loading…</p>}
        {base && (
          <form
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              void send(false, base.version);
            }}
          >
            <p className="hint">
              The service as <code>berth service show {name} -o yaml</code> prints it. Only <code>spec:</code> is changed by an update; the fields berth writes (id, version, status …) are
              ignored.
            </p>
            <YamlEditor
              value={text}
              onChange={(t) => {
                setText(t);
                if (outcome?.kind === 'checked' || outcome?.kind === 'updated') setOutcome(undefined);
              }}
              errors={errors}
              label="Service YAML"
              fileName={`${name}.yaml`}
            />
            {outcome?.kind === 'checked' && outcome.text === text && (
              <p role="status" className="ok-note">
                The server accepts this spec (dry run: nothing was stored).
              </p>
            )}
            {outcome?.kind === 'updated' && (
              <p role="status" className="ok-note">
                Updated to version {outcome.service.version}
                {outcome.deployed ? `, deploying generation ${outcome.service.deployment?.generation ?? outcome.service.generation}.` : ': nothing to deploy (or Deploy unticked).'}{' '}
                <Link href={serviceUrl(grid, name)}>Back to {name}</Link>
              </p>
            )}
            {outcome?.kind === 'refused' && read.ok && (
              <p role="alert" className="error">
                {outcome.causes.length > 0 ? `The server refused it: ${errors.length} error${errors.length === 1 ? '' : 's'}, shown at ${errors.length === 1 ? 'its line' : 'their lines'}.` : outcome.message}
              </p>
            )}
            {outcome?.kind === 'conflict' && (
              <div role="alert" className="card conflict">
                <p>
                  <strong>Changed by someone else since you opened it:</strong> you read version {base.version}; it is now at version {outcome.current.version} (updated{' '}
                  <RelativeTime iso={outcome.current.updatedAt} />
                  ). Nothing was changed.
                </p>
                <div className="form-actions">
                  <button type="button" onClick={load}>
                    Load the current version (drop my text)
                  </button>
                  <button type="button" onClick={() => void send(false, outcome.current.version)}>
                    Update version {outcome.current.version} with my text
                  </button>
                </div>
              </div>
            )}
            <label className="radio deploy-now">
              <input type="checkbox" checked={deploy} onChange={(e) => setDeploy(e.target.checked)} />
              <span>
                Deploy the change <span className="hint">— when the containers, replicas or rollout settings changed; unticked, the spec is stored and waits for a deploy.</span>
              </span>
            </label>
            <div className="form-actions">
              <button type="button" onClick={() => navigate(serviceUrl(grid, name))}>
                Cancel
              </button>
              <span className="spacer" />
              <button type="button" disabled={busy || !read.ok} onClick={() => void send(true, base.version)}>
                Check
              </button>
              <button type="submit" className="primary" disabled={busy || !read.ok}>
                {busy ? 'Sending…' : 'Update'}
              </button>
            </div>
          </form>
        )}
      </OperateGate>
    </section>
  );
}
