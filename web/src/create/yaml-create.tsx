import { useState } from 'react';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { isApiError } from '../../../src/client/index.js';
import { servicesUrl, serviceUrl } from '../urls.js';
import { useSession } from '../session/session.js';
import type { FieldCause } from '../yaml/index.js';
import { YamlEditor, locateErrors, readSpec } from '../yaml/index.js';

/** What the editor starts with: a small service that runs as a plain process. */
export const YAML_TEMPLATE = `name: my-service
labels:
  version: v1
annotations:
  berth.io/alias: My service
replicas: 1
containers:
  - command: [sleep, "1000"]
`;

/** The server's answer to the last check or create, and the text it was about. */
type Verdict = { readonly kind: 'ok'; readonly text: string } | { readonly kind: 'refused'; readonly message: string; readonly causes: readonly FieldCause[] };

/**
 * Edit by YAML (docs/console.md, "Create"): a spec, or a whole service as `berth service show -o yaml`
 * prints it, typed or uploaded. YAML syntax errors show at their lines as you type; Check sends a
 * dry run (`?dryRun=All`: the server validates and stores nothing) and Create the real request, and
 * the server's field errors show at the lines of their fields.
 */
export function YamlCreateForm({ grid }: { readonly grid: string }): ReactNode {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const [text, setText] = useState(YAML_TEMPLATE);
  const [deploy, setDeploy] = useState(true);
  const [busy, setBusy] = useState(false);
  const [verdict, setVerdict] = useState<Verdict | undefined>(undefined);
  const read = readSpec(text);
  // Field causes follow the text as it is edited: each is placed by its field path in the current text.
  const errors = !read.ok ? [...read.errors] : verdict?.kind === 'refused' ? locateErrors(text, verdict.causes) : [];

  const send = async (dryRun: boolean): Promise<void> => {
    if (!read.ok) return;
    setBusy(true);
    try {
      await client.createService(grid, read.spec, { dryRun, deploy: dryRun ? false : deploy });
      if (!dryRun) {
        navigate(serviceUrl(grid, read.spec.name));
        return;
      }
      setVerdict({ kind: 'ok', text });
    } catch (e) {
      const causes = isApiError(e) ? e.causes : [];
      setVerdict({ kind: 'refused', message: e instanceof Error ? e.message : String(e), causes: causes.length > 0 ? causes : [{ field: '', message: e instanceof Error ? e.message : String(e) }] });
    }
    setBusy(false);
  };

  return (
    <form
      className="create-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void send(false);
      }}
    >
      <section className="card step" aria-labelledby="step-title">
        <h2 id="step-title">Edit by YAML</h2>
        <p className="hint">
          A service spec (docs/spec.md) or a whole service as <code>berth service show NAME -o yaml</code> prints it. The server checks it: Check validates without storing anything.
        </p>
        <YamlEditor
          value={text}
          onChange={(t) => {
            setText(t);
            if (verdict?.kind === 'ok') setVerdict(undefined);
          }}
          errors={errors}
          label="Service YAML"
          fileName={`${read.ok ? read.spec.name : 'service'}.yaml`}
        />
        {verdict?.kind === 'ok' && verdict.text === text && (
          <p role="status" className="ok-note">
            The server accepts this spec (dry run: nothing was stored).
          </p>
        )}
        {verdict?.kind === 'refused' && read.ok && (
          <p role="alert" className="error">
            {verdict.causes.length > 1 || verdict.causes[0]?.field ? errors.length === 1 ? 'The server refused it: 1 error, shown at its line.' : `The server refused it: ${errors.length} errors, shown at their lines.` : verdict.message}
          </p>
        )}
        <label className="radio deploy-now">
          <input type="checkbox" checked={deploy} onChange={(e) => setDeploy(e.target.checked)} />
          <span>
            Deploy now <span className="hint">— unticked, the service is stored and not run until deployed (berth's default, as Kontena).</span>
          </span>
        </label>
      </section>
      <div className="form-actions">
        <Link href={servicesUrl(grid)} className="button">
          Cancel
        </Link>
        <span className="spacer" />
        <button type="button" disabled={busy || !read.ok} onClick={() => void send(true)}>
          Check
        </button>
        <button type="submit" className="primary" disabled={busy || !read.ok}>
          {busy ? 'Sending…' : 'Create'}
        </button>
      </div>
    </form>
  );
}
