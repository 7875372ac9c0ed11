import { useState } from 'react';
import type { ReactNode } from 'react';
import { useLocation } from 'wouter';
import type { ServiceSpecInput } from '../../../src/model/index.js';
import { isApiError } from '../../../src/client/index.js';
import { serviceUrl } from '../urls.js';
import { useSession } from '../session/session.js';
import type { BasicForm, Errors } from './form-model.js';
import { TextField } from './fields.js';

/**
 * Basic information: name (checked as you type: its message appears under the field), alias,
 * version (stateless and stateful only) and description.
 */
export function BasicFields({
  basic,
  onChange,
  errors,
  version = true,
}: {
  readonly basic: BasicForm;
  readonly onChange: (b: BasicForm) => void;
  readonly errors: Errors;
  readonly version?: boolean;
}): ReactNode {
  const set = (patch: Partial<BasicForm>): void => onChange({ ...basic, ...patch });
  return (
    <div className="grid2">
      <TextField
        field="name"
        label="Name"
        value={basic.name}
        onChange={(v) => set({ name: v })}
        error={errors['name']}
        hint="Lower-case letters, digits and '-', starting with a letter, at most 63. It is the service's DNS name and cannot change."
        required
        autoComplete="off"
        spellCheck={false}
      />
      <TextField field="alias" label="Alias" value={basic.alias} onChange={(v) => set({ alias: v })} hint="A display name for people: any text (annotation berth.io/alias)." autoComplete="off" maxLength={256} />
      {version && (
        <TextField field="version" label="Version" value={basic.version} onChange={(v) => set({ version: v })} error={errors['version']} hint="Lower-case letters and digits, at most 16 (the label version)." autoComplete="off" spellCheck={false} />
      )}
      <TextField field="description" label="Description (optional)" value={basic.description} onChange={(v) => set({ description: v })} autoComplete="off" maxLength={1024} />
    </div>
  );
}

/** A refused create, in the API's words, with its field causes. */
export interface CreateFailure {
  readonly message: string;
  readonly causes: readonly { readonly field: string; readonly message: string }[];
}

/**
 * Sends a create and goes to the new service's page when it is stored; a refusal (SPEC_INVALID with
 * its causes, ADDRESS_EXHAUSTED, ALREADY_EXISTS …) is kept for the page to show.
 */
export function useCreate(grid: string): {
  readonly busy: boolean;
  readonly failure: CreateFailure | undefined;
  submit(spec: ServiceSpecInput, deploy: boolean): Promise<void>;
} {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<CreateFailure | undefined>(undefined);
  const submit = async (spec: ServiceSpecInput, deploy: boolean): Promise<void> => {
    setBusy(true);
    setFailure(undefined);
    try {
      await client.createService(grid, spec, { deploy });
      navigate(serviceUrl(grid, spec.name));
    } catch (e) {
      setFailure({ message: e instanceof Error ? e.message : String(e), causes: isApiError(e) ? e.causes : [] });
      setBusy(false);
    }
  };
  return { busy, failure, submit };
}

/** The server's refusal: its message and each field cause. */
export function FailureNote({ failure }: { readonly failure: CreateFailure | undefined }): ReactNode {
  if (!failure) return null;
  return (
    <div role="alert" className="error create-failure">
      <p>{failure.causes.length > 0 ? 'The server refused the service:' : failure.message}</p>
      {failure.causes.length > 0 && (
        <ul>
          {failure.causes.map((c, i) => (
            <li key={i}>{c.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
