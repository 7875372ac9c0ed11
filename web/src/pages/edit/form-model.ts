import type { ServiceSpec, ServiceSpecInput } from '../../../../src/model/index.js';
import type { WorkloadField } from '../../../../src/model/deploy-state.js';
import type { Describe } from './conflict.js';

/**
 * One edit page's form over a part of the spec: how it reads its values from the stored spec, how it
 * writes them back into a whole spec for `PUT …/services/:name` (which replaces the spec), and how
 * it shows them field by field (for the conflict diff). `fields` are the spec fields it may change.
 */
export interface FormModel<V> {
  readonly fields: readonly NetworkOrMetadataField[];
  read(spec: ServiceSpec): V;
  /** `spec` with the form's fields set from `values`; every other field as stored. */
  apply(spec: ServiceSpec, values: V): ServiceSpecInput;
  readonly describe: Describe<V>;
  /** The label of each described field, as the page shows it. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The spec fields the edit pages change. None is a workload field (WORKLOAD_FIELDS in
 * src/model/deploy-state.ts): the metadata and the network face are in effect once stored, without a
 * deploy (docs/spec.md). The type below fails to compile if one ever is.
 */
export type NetworkOrMetadataField = 'labels' | 'annotations' | 'clusterIP' | 'selector' | 'ports' | 'type' | 'externalIPs';
const noWorkloadField: Extract<NetworkOrMetadataField, WorkloadField> extends never ? true : false = true;
void noWorkloadField;

/** The stored spec as the input of an update (the stored spec is a valid input: it is fully defaulted). */
export function asInput(spec: ServiceSpec): ServiceSpecInput {
  return spec as ServiceSpecInput;
}
