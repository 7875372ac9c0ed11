import type { ReactNode } from 'react';
import { useParams } from 'wouter';
import { EditFrame } from './edit-frame.js';
import { metadataForm } from './metadata-form.js';
import { RowsEditor } from './rows-editor.js';
import { useServiceForm } from './use-service-form.js';

/**
 * Edit (KubeSphere's "Edit Information") at `/grids/:grid/services/:name/edit`: alias, description,
 * labels and annotations; the name is read-only. Metadata is no workload field: saved, it is in
 * effect at once and nothing is redeployed (labels change which selectors match the service).
 */
export function EditMetadataPage(): ReactNode {
  const { grid = 'default', name = '' } = useParams<{ grid: string; name: string }>();
  const state = useServiceForm(grid, name, metadataForm);
  const v = state.values;
  return (
    <EditFrame grid={grid} name={name} title="Edit" form={metadataForm} state={state} effect="Applies at once when saved: labels and annotations are not workload fields, so no instance is restarted and nothing waits for a deploy.">
      {v && (
        <>
          <label className="block">
            Name
            <input value={name} readOnly aria-readonly="true" />
          </label>
          <label className="block">
            Alias
            <input value={v.alias} onChange={(e) => state.setValues((x) => ({ ...x, alias: e.target.value }))} placeholder="a display name" />
          </label>
          <label className="block">
            Description
            <textarea value={v.description} rows={2} onChange={(e) => state.setValues((x) => ({ ...x, description: e.target.value }))} />
          </label>
          <fieldset>
            <legend>Labels</legend>
            <RowsEditor noun="Label" rows={v.labels} onChange={(labels) => state.setValues((x) => ({ ...x, labels }))} />
          </fieldset>
          <fieldset>
            <legend>Annotations</legend>
            <RowsEditor noun="Annotation" rows={v.annotations} multiline onChange={(annotations) => state.setValues((x) => ({ ...x, annotations }))} />
          </fieldset>
        </>
      )}
    </EditFrame>
  );
}
