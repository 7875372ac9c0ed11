import type { ReactNode } from 'react';
import type { Row } from './rows.js';

/**
 * Key = value rows (labels, annotations, a selector) with Add and Remove; each input is labelled
 * (`Label 1 key`), so the rows are usable by keyboard and by screen readers.
 */
export function RowsEditor({ noun, rows, onChange, multiline }: { readonly noun: string; readonly rows: readonly Row[]; readonly onChange: (rows: Row[]) => void; readonly multiline?: boolean }): ReactNode {
  const set = (i: number, patch: Partial<Row>): void => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <div className="rows-editor">
      {rows.length === 0 && <p className="muted small">No {noun.toLowerCase()}s.</p>}
      {rows.map((r, i) => (
        <div className="row-line" key={i}>
          <input aria-label={`${noun} ${i + 1} key`} value={r.key} placeholder="key" onChange={(e) => set(i, { key: e.target.value })} />
          <span aria-hidden="true">=</span>
          {multiline ? (
            <textarea aria-label={`${noun} ${i + 1} value`} value={r.value} placeholder="value" rows={1} onChange={(e) => set(i, { value: e.target.value })} />
          ) : (
            <input aria-label={`${noun} ${i + 1} value`} value={r.value} placeholder="value" onChange={(e) => set(i, { value: e.target.value })} />
          )}
          <button type="button" aria-label={`Remove ${noun.toLowerCase()} ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rows, { key: '', value: '' }])}>
        Add {noun.toLowerCase()}
      </button>
    </div>
  );
}
