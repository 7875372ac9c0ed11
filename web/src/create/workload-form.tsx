import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { Link } from 'wouter';
import { servicesUrl } from '../urls.js';
import { useSession } from '../session/session.js';
import { AdvancedStep } from './advanced-step.js';
import { BasicFields, FailureNote, useCreate } from './basic-fields.js';
import type { DockerSupport } from './container-fields.js';
import { ContainerFields } from './container-fields.js';
import type { Errors, WorkloadForm } from './form-model.js';
import { advancedErrors, basicErrors, containersErrors, emptyContainer, formFieldOfCause, newWorkloadForm, volumesErrors } from './form-model.js';
import { workloadSpec } from './form-spec.js';
import { TextField, focusFirstError, visibleErrors } from './fields.js';

type Step = 'basic' | 'containers' | 'volumes' | 'advanced';
const STEP_TITLES: Record<Step, string> = { basic: 'Basic information', containers: 'Containers', volumes: 'Volumes', advanced: 'Advanced settings' };

function stepErrors(step: Step, form: WorkloadForm): Errors {
  switch (step) {
    case 'basic':
      return basicErrors(form.basic);
    case 'containers':
      return containersErrors(form.containers);
    case 'volumes':
      return volumesErrors(form.containers);
    case 'advanced':
      return advancedErrors(form);
  }
}

/**
 * KubeSphere's step form for a stateless or stateful service (docs/console.md, "Create"): Basic
 * information → Containers → Volumes (stateful only) → Advanced settings. Next validates the step it
 * leaves (messages under the fields, focus on the first); Create sends the spec (form-spec.ts) and,
 * when "Deploy now" is ticked, deploys it; the service's page opens once it is stored.
 */
export function WorkloadCreateForm({ grid, kind }: { readonly grid: string; readonly kind: 'stateless' | 'stateful' }): ReactNode {
  const { client } = useSession();
  const steps: Step[] = kind === 'stateful' ? ['basic', 'containers', 'volumes', 'advanced'] : ['basic', 'containers', 'advanced'];
  const [form, setForm] = useState<WorkloadForm>(newWorkloadForm);
  const [at, setAt] = useState(0);
  const [tried, setTried] = useState<ReadonlySet<Step>>(new Set());
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const [docker, setDocker] = useState<DockerSupport | undefined>(undefined);
  const { busy, failure, submit } = useCreate(grid);
  const step = steps[at] ?? 'basic';

  useEffect(() => {
    let live = true;
    client.version().then(
      (v) => live && setDocker({ available: v.drivers?.includes('docker') ?? false, ...(v.unavailableDrivers?.['docker'] ? { reason: v.unavailableDrivers['docker'] } : {}) }),
      () => live && setDocker({ available: false, reason: 'the server did not say' }),
    );
    return () => {
      live = false;
    };
  }, [client]);
  // A first container, once the server said whether it runs images.
  useEffect(() => {
    if (docker && form.containers.length === 0 && !tried.has('containers')) setForm((f) => ({ ...f, containers: [emptyContainer(docker.available ? 'image' : 'command')] }));
    // Only when the driver answer arrives (the form and `tried` are read, not followed).
  }, [docker]);

  // The server's causes of a refused create, placed at their fields (until the form is edited again).
  const [serverErrors, setServerErrors] = useState<Errors>({});
  useEffect(() => {
    if (!failure) return;
    const placed: Errors = {};
    let first: number | undefined;
    for (const c of failure.causes) {
      const place = formFieldOfCause(c.field, form);
      if (!place || placed[place.key] !== undefined) continue;
      placed[place.key] = c.message.startsWith(`${c.field}: `) ? c.message.slice(c.field.length + 2) : c.message;
      const index = steps.indexOf(place.step);
      if (index >= 0 && (first === undefined || index < first)) first = index;
    }
    setServerErrors(placed);
    if (first !== undefined) {
      setAt(first);
      setTimeout(() => focusFirstError(placed), 0);
    }
    // Only when a new refusal arrives.
  }, [failure]);
  useEffect(() => setServerErrors({}), [form]);

  const errors = stepErrors(step, form);
  const shown = { ...serverErrors, ...visibleErrors(errors, touched, tried.has(step)) };
  const tryStep = (): boolean => {
    setTried(new Set([...tried, step]));
    if (Object.keys(errors).length === 0) return true;
    setTimeout(() => focusFirstError(errors), 0);
    return false;
  };
  const next = (): void => {
    if (tryStep()) setAt(at + 1);
  };
  const create = (): void => {
    if (!tryStep()) return;
    const bad = steps.findIndex((s) => Object.keys(stepErrors(s, form)).length > 0);
    if (bad >= 0) {
      setAt(bad);
      return;
    }
    void submit(workloadSpec(form, kind), form.advanced.deploy);
  };

  return (
    <form
      className="create-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (at < steps.length - 1) next();
        else create();
      }}
    >
      <ol className="steps" aria-label="Steps">
        {steps.map((s, i) => (
          <li key={s} aria-current={i === at ? 'step' : undefined} className={i < at ? 'done' : undefined}>
            <span className="step-no">{i + 1}</span> {STEP_TITLES[s]}
          </li>
        ))}
      </ol>
      <section className="card step" aria-labelledby="step-title">
        <h2 id="step-title">{STEP_TITLES[step]}</h2>
        {step === 'basic' && (
          <BasicFields
            basic={form.basic}
            errors={shown}
            onChange={(basic) => {
              setTouched(new Set([...touched, ...(['name', 'version'] as const).filter((k) => basic[k] !== form.basic[k])]));
              setForm({ ...form, basic });
            }}
          />
        )}
        {step === 'containers' && (
          <>
            {shown['containers'] && (
              <p className="field-error" id="cf-containers" tabIndex={-1}>
                {shown['containers']}
              </p>
            )}
            {form.containers.map((c, i) => (
              <ContainerFields
                key={i}
                index={i}
                container={c}
                errors={shown}
                docker={docker}
                onChange={(nc) => setForm({ ...form, containers: form.containers.map((x, j) => (j === i ? nc : x)) })}
                onRemove={() => setForm({ ...form, containers: form.containers.filter((_, j) => j !== i) })}
              />
            ))}
            <button type="button" onClick={() => setForm({ ...form, containers: [...form.containers, emptyContainer(form.containers[0]?.runs ?? (docker?.available ? 'image' : 'command'))] })}>
              Add container
            </button>
          </>
        )}
        {step === 'volumes' && <VolumesStep form={form} onChange={setForm} errors={shown} />}
        {step === 'advanced' && <AdvancedStep form={form} onChange={setForm} errors={shown} />}
      </section>
      <FailureNote failure={failure} />
      <div className="form-actions">
        <Link href={servicesUrl(grid)} className="button">
          Cancel
        </Link>
        <span className="spacer" />
        {at > 0 && (
          <button type="button" onClick={() => setAt(at - 1)}>
            Back
          </button>
        )}
        {at < steps.length - 1 ? (
          <button type="submit" className="primary">
            Next
          </button>
        ) : (
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        )}
      </div>
    </form>
  );
}

/**
 * Volumes (stateful): per-slot data. An image container mounts volumes without a source (each slot's
 * own, kept across restarts and redeploys); a process has its slot's data directory (BERTH_DATA_DIR).
 */
function VolumesStep({ form, onChange, errors }: { readonly form: WorkloadForm; readonly onChange: (f: WorkloadForm) => void; readonly errors: Errors }): ReactNode {
  const setVolumes = (i: number, volumes: string[]): void => onChange({ ...form, containers: form.containers.map((c, j) => (j === i ? { ...c, volumes } : c)) });
  return (
    <>
      <p className="hint">
        Each slot of a stateful service (replica 1, 2 …) keeps its own data across restarts and redeploys, and after the service is removed unless its volumes are removed too.
      </p>
      {form.containers.map((c, i) => (
        <div key={i} className="card container-card">
          <h3>{c.name || `Container ${i + 1}`}</h3>
          {c.runs === 'command' ? (
            <p>
              Runs as a process: its slot's data directory is given in <code>BERTH_DATA_DIR</code>. Volumes mount into images only.
            </p>
          ) : (
            <div className="rows">
              {c.volumes.map((target, j) => (
                <div className="row" key={j}>
                  <TextField
                    field={`c${i}-vol${j}`}
                    label={`Volume ${j + 1}: mount path`}
                    value={target}
                    onChange={(v) => setVolumes(i, c.volumes.map((t, k) => (k === j ? v : t)))}
                    error={errors[`c${i}-vol${j}`]}
                    placeholder="/var/lib/data"
                    spellCheck={false}
                  />
                  <button type="button" className="remove" onClick={() => setVolumes(i, c.volumes.filter((_, k) => k !== j))} aria-label={`Remove volume ${j + 1}`}>
                    Remove
                  </button>
                </div>
              ))}
              <button type="button" onClick={() => setVolumes(i, [...c.volumes, ''])}>
                Add volume
              </button>
            </div>
          )}
        </div>
      ))}
    </>
  );
}
