import type { ServiceSpec } from '../../../../src/model/index.js';
import { ALIAS_ANNOTATION } from '../../view/service-view.js';
import type { FormModel } from './form-model.js';
import { asInput } from './form-model.js';
import type { Row } from './rows.js';
import { mapOf, rowsOf, showMap } from './rows.js';

/** KubeSphere's description, as an annotation (the console's, beside `berth.io/alias`). */
export const DESCRIPTION_ANNOTATION = 'berth.io/description';

/** Edit (KubeSphere's "Edit Information"): everything but the name. */
export interface MetadataValues {
  readonly alias: string;
  readonly description: string;
  readonly labels: readonly Row[];
  /** The other annotations (alias and description have their own fields). */
  readonly annotations: readonly Row[];
}

/**
 * The metadata form: alias and description (annotations `berth.io/alias`, `berth.io/description`),
 * labels, other annotations. An empty alias or description removes its annotation; no annotation
 * left leaves `annotations` out of the spec (as the server stores a spec without them).
 */
export const metadataForm: FormModel<MetadataValues> = {
  fields: ['labels', 'annotations'],
  read(spec: ServiceSpec): MetadataValues {
    const annotations = { ...(spec.annotations ?? {}) };
    const alias = annotations[ALIAS_ANNOTATION] ?? '';
    const description = annotations[DESCRIPTION_ANNOTATION] ?? '';
    delete annotations[ALIAS_ANNOTATION];
    delete annotations[DESCRIPTION_ANNOTATION];
    return { alias, description, labels: rowsOf(spec.labels), annotations: rowsOf(annotations) };
  },
  apply(spec, values) {
    const annotations = mapOf(values.annotations);
    delete annotations[ALIAS_ANNOTATION];
    delete annotations[DESCRIPTION_ANNOTATION];
    if (values.alias.trim()) annotations[ALIAS_ANNOTATION] = values.alias.trim();
    if (values.description.trim()) annotations[DESCRIPTION_ANNOTATION] = values.description.trim();
    const { annotations: _old, ...rest } = spec;
    return asInput({ ...rest, labels: mapOf(values.labels), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) });
  },
  describe: (v) => ({ alias: v.alias.trim() || '(none)', description: v.description.trim() || '(none)', labels: showMap(v.labels), annotations: showMap(v.annotations) }),
  labels: { alias: 'Alias', description: 'Description', labels: 'Labels', annotations: 'Annotations' },
};
