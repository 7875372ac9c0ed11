import type { InputHTMLAttributes, ReactNode } from 'react';
import type { Errors, PortRow } from './form-model.js';
import { emptyPort } from './form-model.js';

/** The DOM id of a form field key (`name` → `cf-name`); its message is `cf-name-error`. */
export const fieldId = (key: string): string => `cf-${key}`;

/** Moves focus to the first field with an error (after a refused Next or Create). */
export function focusFirstError(errors: Errors): void {
  const first = Object.keys(errors)[0];
  if (first) document.getElementById(fieldId(first))?.focus();
}

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange'>;

/**
 * A labelled text input with its message under it: `aria-invalid` and `aria-describedby` point a
 * screen reader at the message (or at the hint when there is none).
 */
export function TextField({
  field,
  label,
  value,
  onChange,
  error,
  hint,
  ...input
}: { readonly field: string; readonly label: string; readonly value: string; readonly onChange: (v: string) => void; readonly error?: string | undefined; readonly hint?: ReactNode } & InputProps): ReactNode {
  const id = fieldId(field);
  const describedBy = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {hint && !error && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** A labelled select of fixed options. */
export function SelectField<T extends string>({
  field,
  label,
  value,
  options,
  onChange,
}: {
  readonly field: string;
  readonly label: string;
  readonly value: T;
  readonly options: readonly (readonly [T, string])[];
  readonly onChange: (v: T) => void;
}): ReactNode {
  const id = fieldId(field);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as T)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A group of radio buttons with a legend. */
export function RadioGroup<T extends string>({
  field,
  legend,
  value,
  options,
  onChange,
  error,
}: {
  readonly field: string;
  readonly legend: string;
  readonly value: T;
  readonly options: readonly (readonly [T, string, string?])[];
  readonly onChange: (v: T) => void;
  readonly error?: string | undefined;
}): ReactNode {
  const id = fieldId(field);
  return (
    <fieldset className="radios" id={id} tabIndex={-1} aria-describedby={error ? `${id}-error` : undefined} aria-invalid={error ? true : undefined}>
      <legend>{legend}</legend>
      {options.map(([v, text, hint]) => (
        <label key={v} className="radio">
          <input type="radio" name={id} value={v} checked={value === v} onChange={() => onChange(v)} />
          <span>
            {text}
            {hint && <span className="hint"> — {hint}</span>}
          </span>
        </label>
      ))}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}

/**
 * Port rows: name, protocol, the container (or target) port and the service port; node ports are
 * edited in Advanced settings. `prefix` makes the field keys (`c0-port1-name`).
 */
export function PortsEditor({
  ports,
  onChange,
  prefix,
  errors,
  portLabel = 'Container port',
  servicePort = true,
}: {
  readonly ports: readonly PortRow[];
  readonly onChange: (ports: PortRow[]) => void;
  readonly prefix: string;
  readonly errors: Errors;
  readonly portLabel?: string;
  readonly servicePort?: boolean;
}): ReactNode {
  const set = (i: number, patch: Partial<PortRow>): void => onChange(ports.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  return (
    <div className="rows">
      {ports.map((p, i) => {
        const k = `${prefix}port${i}`;
        return (
          <div className="row" key={i} role="group" aria-label={`Port ${i + 1}`}>
            <TextField field={`${k}-name`} label="Port name" value={p.name} onChange={(v) => set(i, { name: v })} error={errors[`${k}-name`]} placeholder="http" size={10} />
            <SelectField field={`${k}-protocol`} label="Protocol" value={p.protocol} options={[['TCP', 'TCP'], ['UDP', 'UDP']]} onChange={(v) => set(i, { protocol: v })} />
            <TextField field={`${k}-container`} label={portLabel} value={p.containerPort} onChange={(v) => set(i, { containerPort: v })} error={errors[`${k}-container`]} inputMode="numeric" size={7} />
            {servicePort && (
              <TextField field={`${k}-service`} label="Service port" value={p.servicePort} onChange={(v) => set(i, { servicePort: v })} error={errors[`${k}-service`]} inputMode="numeric" size={7} placeholder={p.containerPort || 'same'} />
            )}
            <button type="button" className="remove" onClick={() => onChange(ports.filter((_, j) => j !== i))} aria-label={`Remove port ${i + 1}`}>
              Remove
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => onChange([...ports, emptyPort()])}>
        Add port
      </button>
    </div>
  );
}

/** Only the errors of fields the user has touched, or all of them once a Next/Create was tried. */
export function visibleErrors(errors: Errors, touched: ReadonlySet<string>, tried: boolean): Errors {
  if (tried) return errors;
  return Object.fromEntries(Object.entries(errors).filter(([k]) => touched.has(k)));
}
