import { useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { Link } from 'wouter';
import type { Service } from '../../../src/model/index.js';
import { ErrorNote } from '../components/layout.js';
import { servicesUrl } from '../urls.js';
import { useSession } from '../session/session.js';
import { BasicFields, FailureNote, useCreate } from './basic-fields.js';
import type { Errors, ExternalForm, SelectorForm } from './form-model.js';
import { emptyBasic, emptyPort, externalErrors, selectorErrors } from './form-model.js';
import { externalSpec, selectorSpec } from './form-spec.js';
import { PortsEditor, RadioGroup, TextField, fieldId, focusFirstError, visibleErrors } from './fields.js';

function Actions({ grid, busy }: { readonly grid: string; readonly busy: boolean }): ReactNode {
  return (
    <div className="form-actions">
      <Link href={servicesUrl(grid)} className="button">
        Cancel
      </Link>
      <span className="spacer" />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create'}
      </button>
    </div>
  );
}

/** Shows messages once a field changed or Create was tried; Create focuses the first bad field. */
function useChecked(errors: Errors): { shown: Errors; touch(keys: string[]): void; attempt(): boolean } {
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const [tried, setTried] = useState(false);
  return {
    shown: visibleErrors(errors, touched, tried),
    touch: (keys) => setTouched(new Set([...touched, ...keys])),
    attempt: () => {
      setTried(true);
      if (Object.keys(errors).length === 0) return true;
      setTimeout(() => focusFirstError(errors), 0);
      return false;
    },
  };
}

/** An External service (KubeSphere's; Kubernetes' ExternalName): a DNS name that the service's name stands for. */
export function ExternalCreateForm({ grid }: { readonly grid: string }): ReactNode {
  const [form, setForm] = useState<ExternalForm>({ basic: emptyBasic(), externalName: '', ports: [] });
  const errors = externalErrors(form);
  const { shown, touch, attempt } = useChecked(errors);
  const { busy, failure, submit } = useCreate(grid);
  return (
    <form
      className="create-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (attempt()) void submit(externalSpec(form), false);
      }}
    >
      <section className="card step" aria-labelledby="step-title">
        <h2 id="step-title">External service</h2>
        <p className="hint">Clients in the grid that look up this service's name get the external DNS name (a CNAME); nothing runs.</p>
        <BasicFields
          basic={form.basic}
          version={false}
          errors={shown}
          onChange={(basic) => {
            if (basic.name !== form.basic.name) touch(['name']);
            setForm({ ...form, basic });
          }}
        />
        <TextField
          field="externalName"
          label="External name"
          value={form.externalName}
          onChange={(v) => {
            touch(['externalName']);
            setForm({ ...form, externalName: v });
          }}
          error={shown['externalName']}
          placeholder="db.example.org"
          hint="The DNS name this service stands for."
          spellCheck={false}
          autoComplete="off"
        />
        <h3>Ports</h3>
        <PortsEditor ports={form.ports} onChange={(ports) => setForm({ ...form, ports })} prefix="" errors={shown} portLabel="Port" servicePort={false} />
      </section>
      <FailureNote failure={failure} />
      <Actions grid={grid} busy={busy} />
    </form>
  );
}

/** Every `key=value` label of the grid's services, with the services that carry it. */
export function labelChoices(services: readonly Service[]): { readonly pair: string; readonly services: readonly string[] }[] {
  const byPair = new Map<string, string[]>();
  for (const s of services) {
    for (const [k, v] of Object.entries(s.spec.labels)) byPair.set(`${k}=${v}`, [...(byPair.get(`${k}=${v}`) ?? []), s.name]);
  }
  return [...byPair.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([pair, names]) => ({ pair, services: names }));
}

/**
 * Specify workloads (KubeSphere's): a service without containers that serves the instances of the
 * grid's services carrying every picked label (a selector). The labels to pick from are those of the
 * services in the grid now.
 */
export function SelectorCreateForm({ grid }: { readonly grid: string }): ReactNode {
  const { client } = useSession();
  const [services, setServices] = useState<Service[] | undefined>(undefined);
  const [loadError, setLoadError] = useState<string | undefined>(undefined);
  const [form, setForm] = useState<SelectorForm>({ basic: emptyBasic(), selector: [], ports: [emptyPort()], access: 'vip' });
  const errors = selectorErrors(form);
  const { shown, touch, attempt } = useChecked(errors);
  const { busy, failure, submit } = useCreate(grid);
  useEffect(() => {
    let live = true;
    client.listServices(grid).then(
      (s) => live && setServices(s),
      (e: unknown) => live && setLoadError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [client, grid]);
  const choices = useMemo(() => labelChoices((services ?? []).filter((s) => s.spec.containers.length > 0)), [services]);
  const carries = (s: Service, pair: string): boolean => s.spec.labels[pair.slice(0, pair.indexOf('='))] === pair.slice(pair.indexOf('=') + 1);
  const matched = (services ?? []).filter((s) => s.spec.containers.length > 0 && form.selector.every((pair) => carries(s, pair)));
  const toggle = (pair: string, on: boolean): void => {
    touch(['selector']);
    setForm({ ...form, selector: on ? [...form.selector, pair] : form.selector.filter((p) => p !== pair) });
  };
  return (
    <form
      className="create-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (attempt()) void submit(selectorSpec(form), false);
      }}
    >
      <section className="card step" aria-labelledby="step-title">
        <h2 id="step-title">Specify workloads</h2>
        <BasicFields
          basic={form.basic}
          version={false}
          errors={shown}
          onChange={(basic) => {
            if (basic.name !== form.basic.name) touch(['name']);
            setForm({ ...form, basic });
          }}
        />
        <fieldset className="radios" id={fieldId('selector')} tabIndex={-1} aria-describedby={shown['selector'] ? 'cf-selector-error' : undefined}>
          <legend>Labels to select (of the services in {grid})</legend>
          <ErrorNote error={loadError} />
          {services === undefined && !loadError && <p className="muted">Loading the grid's labels…</p>}
          {services !== undefined && choices.length === 0 && <p className="muted">No service in this grid has labels yet.</p>}
          <div className="label-choices">
            {choices.map((c) => (
              <label key={c.pair} className="radio">
                <input type="checkbox" checked={form.selector.includes(c.pair)} onChange={(e) => toggle(c.pair, e.target.checked)} />
                <span>
                  <code>{c.pair}</code> <span className="hint">({c.services.join(', ')})</span>
                </span>
              </label>
            ))}
          </div>
          {form.selector.length > 0 && <p className="hint">Selects {matched.length === 0 ? 'no service now' : matched.map((s) => s.name).join(', ')}.</p>}
          {shown['selector'] && (
            <p className="field-error" id="cf-selector-error">
              {shown['selector']}
            </p>
          )}
        </fieldset>
        <RadioGroup
          field="access"
          legend="Access type"
          value={form.access}
          options={[
            ['vip', 'Virtual IP'],
            ['headless', 'Headless'],
          ]}
          onChange={(v) => setForm({ ...form, access: v })}
        />
        <h3>Ports</h3>
        {shown['ports'] && <p className="field-error">{shown['ports']}</p>}
        <PortsEditor ports={form.ports} onChange={(ports) => setForm({ ...form, ports })} prefix="" errors={shown} portLabel="Target port" />
      </section>
      <FailureNote failure={failure} />
      <Actions grid={grid} busy={busy} />
    </form>
  );
}
