import { useCallback, useEffect, useState } from 'react';
import { isApiError } from '../../../../src/client/index.js';
import type { Service } from '../../../../src/model/index.js';
import { useSession } from '../../session/session.js';
import { rebase } from './conflict.js';
import type { FormModel } from './form-model.js';

/** A failed save or read, in the API's words, with SPEC_INVALID's field messages. */
export interface FormError {
  readonly message: string;
  readonly causes: readonly { readonly field: string; readonly message: string }[];
}

export function formErrorOf(e: unknown): FormError {
  if (isApiError(e)) return { message: e.message, causes: e.causes };
  return { message: e instanceof Error ? e.message : String(e), causes: [] };
}

/** The state of one edit page: the version read, the values typed, and what the last save said. */
export interface ServiceFormState<V> {
  /** The service as read when the page loaded (or last saved / reloaded): its `version` goes with the save. */
  readonly base: Service | undefined;
  /** The form's values of `base` (what the user started from). */
  readonly original: V | undefined;
  readonly values: V | undefined;
  readonly setValues: (update: (v: V) => V) => void;
  readonly loadError: FormError | undefined;
  readonly saving: boolean;
  readonly error: FormError | undefined;
  /** Set after a 409 VERSION_CONFLICT: the service as it is now. */
  readonly conflict: Service | undefined;
  /** The service the last save stored. */
  readonly saved: Service | undefined;
  save(): Promise<void>;
  /** After a conflict: the user's changes on top of the current version (then Save again). */
  reapply(): void;
  /** After a conflict: drop the user's changes, show the current version. */
  discard(): void;
}

/**
 * Reads the service once, keeps the form's values, and saves with `PUT …/services/:name` and the
 * version read (`updateService(grid, name, spec, { version })`), so a change made by someone else
 * meanwhile answers 409 VERSION_CONFLICT instead of being overwritten; the page then reads the
 * current version and shows it (docs/console.md, "Edit …").
 */
export function useServiceForm<V extends object>(grid: string, name: string, form: FormModel<V>): ServiceFormState<V> {
  const { client } = useSession();
  const [base, setBase] = useState<Service>();
  const [original, setOriginal] = useState<V>();
  const [values, setValuesState] = useState<V>();
  const [loadError, setLoadError] = useState<FormError>();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<FormError>();
  const [conflict, setConflict] = useState<Service>();
  const [saved, setSaved] = useState<Service>();

  const adopt = useCallback(
    (service: Service, keep?: V) => {
      const read = form.read(service.spec);
      setBase(service);
      setOriginal(read);
      setValuesState(keep ?? read);
    },
    [form],
  );

  useEffect(() => {
    let live = true;
    client.getService(grid, name).then(
      (s) => live && adopt(s),
      (e: unknown) => live && setLoadError(formErrorOf(e)),
    );
    return () => {
      live = false;
    };
  }, [client, grid, name, adopt]);

  const setValues = useCallback((update: (v: V) => V) => setValuesState((v) => (v === undefined ? v : update(v))), []);

  const save = async (): Promise<void> => {
    if (!base || !values) return;
    setSaving(true);
    setError(undefined);
    setSaved(undefined);
    try {
      const stored = await client.updateService(grid, name, form.apply(base.spec, values), { version: base.version });
      adopt(stored);
      setSaved(stored);
    } catch (e) {
      if (isApiError(e, 'VERSION_CONFLICT')) {
        try {
          setConflict(await client.getService(grid, name));
        } catch (again) {
          setError(formErrorOf(again));
        }
      } else {
        setError(formErrorOf(e));
      }
    } finally {
      setSaving(false);
    }
  };

  const reapply = (): void => {
    if (!conflict || !original || !values) return;
    adopt(conflict, rebase(original, values, form.read(conflict.spec), form.describe));
    setConflict(undefined);
  };
  const discard = (): void => {
    if (!conflict) return;
    adopt(conflict);
    setConflict(undefined);
  };

  return { base, original, values, setValues, loadError, saving, error, conflict, saved, save, reapply, discard };
}
