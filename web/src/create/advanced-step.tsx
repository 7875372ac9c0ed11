import type { ReactNode } from 'react';
import type { AdvancedForm, Errors, WorkloadForm } from './form-model.js';
import { RadioGroup, SelectField, TextField, fieldId } from './fields.js';

/**
 * Advanced settings: replicas, access type (Virtual IP / Headless), Internet access (None / NodePort /
 * LoadBalancer, with an optional node port per port), Sticky Session (ClientIP affinity; the timeout
 * field shows Kubernetes' default 10800 s), update strategy, labels and "deploy now".
 */
export function AdvancedStep({ form, onChange, errors }: { readonly form: WorkloadForm; readonly onChange: (f: WorkloadForm) => void; readonly errors: Errors }): ReactNode {
  const a = form.advanced;
  const set = (patch: Partial<AdvancedForm>): void => onChange({ ...form, advanced: { ...a, ...patch } });
  const setNodePort = (ci: number, pi: number, nodePort: string): void =>
    onChange({ ...form, containers: form.containers.map((c, i) => (i === ci ? { ...c, ports: c.ports.map((p, j) => (j === pi ? { ...p, nodePort } : p)) } : c)) });
  return (
    <>
      <TextField field="replicas" label="Replicas" value={a.replicas} onChange={(v) => set({ replicas: v })} error={errors['replicas']} inputMode="numeric" size={6} hint="Instances to keep running (0 to 1000)." />
      <RadioGroup
        field="access"
        legend="Access type"
        value={a.access}
        options={[
          ['vip', 'Virtual IP', 'one address balanced over the ready instances'],
          ['headless', 'Headless', 'no virtual IP: DNS answers with the instances’ addresses'],
        ]}
        onChange={(v) => set({ access: v })}
      />
      <RadioGroup
        field="internet"
        legend="Internet access"
        value={a.internet}
        options={[
          ['None', 'None', 'reachable inside the grid only'],
          ['NodePort', 'NodePort', 'each port also on a node port (30000-32767)'],
          ['LoadBalancer', 'LoadBalancer', 'as NodePort, for an external balancer'],
        ]}
        onChange={(v) => set({ internet: v })}
        error={errors['internet']}
      />
      {a.internet !== 'None' && (
        <div className="rows" role="group" aria-label="Node ports">
          {form.containers.flatMap((c, ci) =>
            c.ports.map((p, pi) => (
              <TextField
                key={`${ci}-${pi}`}
                field={`c${ci}-port${pi}-node`}
                label={`Node port for ${p.name || `port ${p.servicePort || p.containerPort}`}`}
                value={p.nodePort}
                onChange={(v) => setNodePort(ci, pi, v)}
                error={errors[`c${ci}-port${pi}-node`]}
                inputMode="numeric"
                size={7}
                placeholder="allocated"
                hint="Optional: left empty, the server allocates one."
              />
            )),
          )}
        </div>
      )}
      <fieldset className="radios" id={fieldId('sticky')}>
        <legend>Sticky session</legend>
        <label className="radio">
          <input type="checkbox" checked={a.sticky} onChange={(e) => set({ sticky: e.target.checked })} />
          <span>Keep each client on one instance (session affinity by client IP)</span>
        </label>
        <TextField
          field="timeout"
          label="Maximum session sticky time (s)"
          value={a.timeout}
          onChange={(v) => set({ timeout: v })}
          error={a.sticky ? errors['timeout'] : undefined}
          disabled={!a.sticky}
          inputMode="numeric"
          size={7}
          hint="Kubernetes' default is 10800 (3 h); at most 86400."
        />
      </fieldset>
      <fieldset className="radios">
        <legend>Update strategy</legend>
        <div className="row">
          <TextField field="parallelism" label="Instances replaced at once" value={a.parallelism} onChange={(v) => set({ parallelism: v })} error={errors['parallelism']} inputMode="numeric" size={5} hint="0 = all" />
          <SelectField
            field="order"
            label="Order"
            value={a.order}
            options={[
              ['stop-first', 'Stop the old, then start the new'],
              ['start-first', 'Start the new, then stop the old'],
            ]}
            onChange={(v) => set({ order: v })}
          />
          <SelectField
            field="failureAction"
            label="When an update fails"
            value={a.failureAction}
            options={[
              ['pause', 'Pause'],
              ['continue', 'Continue'],
              ['rollback', 'Roll back'],
            ]}
            onChange={(v) => set({ failureAction: v })}
          />
        </div>
      </fieldset>
      <TextField field="labels" label="More labels (optional)" value={a.labels} onChange={(v) => set({ labels: v })} error={errors['labels']} placeholder="tier=web, app=shop" hint="key=value, separated by commas; selectors match on labels." autoComplete="off" spellCheck={false} />
      <label className="radio deploy-now">
        <input type="checkbox" checked={a.deploy} onChange={(e) => set({ deploy: e.target.checked })} />
        <span>
          Deploy now
          <span className="hint"> — berth stores a new service without running it unless asked (as Kontena); unticked, deploy it later from its page.</span>
        </span>
      </label>
    </>
  );
}
