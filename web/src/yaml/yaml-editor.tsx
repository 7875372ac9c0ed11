import { useId, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import type { LineError } from './locate-errors.js';
import './yaml-editor.css';

/** Height of one line in px: the gutter, the error bands and the textarea share it (yaml-editor.css). */
const LINE_PX = 20;

export interface YamlEditorProps {
  readonly value: string;
  readonly onChange: (text: string) => void;
  /** Errors to show at their lines (locateErrors / readSpec): gutter marker, band, message, and a list above. */
  readonly errors: readonly LineError[];
  /** The text area's label (default "YAML"). */
  readonly label?: string;
  /** The name Download saves as (default `service.yaml`). */
  readonly fileName?: string;
  readonly readOnly?: boolean;
}

/**
 * A YAML text area with line numbers, Upload (a file replaces the text) and Download, that shows
 * errors at their lines: a marker in the gutter, the line banded, the message at the line's right,
 * and a list above the editor whose items move the caret to the line (docs/console.md, "Create"). The
 * text area keeps native editing, undo and screen-reader support; lines never wrap, so line N of
 * the text is row N of the gutter.
 */
export function YamlEditor({ value, onChange, errors, label = 'YAML', fileName = 'service.yaml', readOnly = false }: YamlEditorProps): ReactNode {
  const id = useId();
  const area = useRef<HTMLTextAreaElement>(null);
  const [scroll, setScroll] = useState({ top: 0, left: 0 });
  const [uploadError, setUploadError] = useState<string | undefined>(undefined);
  const lineCount = value.split('\n').length;
  const byLine = new Map<number, string[]>();
  for (const e of errors) byLine.set(e.line, [...(byLine.get(e.line) ?? []), e.message]);
  // At its line a note need not repeat the field path: `spec.x[0].name: Invalid value …` → `Invalid value …`.
  const notes = new Map<number, string[]>();
  for (const e of errors) notes.set(e.line, [...(notes.get(e.line) ?? []), e.field && e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message]);
  const lines = value.split('\n');

  const goToLine = (line: number): void => {
    const el = area.current;
    if (!el) return;
    const lines = value.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
    el.scrollTop = Math.max(0, (line - 1) * LINE_PX - el.clientHeight / 3);
  };
  const upload = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    if (file.size > 1_048_576) {
      setUploadError(`${file.name} is larger than 1 MiB (the API's request limit).`);
      return;
    }
    setUploadError(undefined);
    onChange(await file.text());
  };
  const download = (): void => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([value], { type: 'application/yaml' }));
    a.download = fileName;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };

  return (
    <div className="yaml">
      <div className="yaml-tools">
        <label htmlFor={id} className="yaml-label">
          {label}
        </label>
        {!readOnly && (
          <label className="button yaml-upload">
            Upload a file
            <input type="file" accept=".yaml,.yml,.json,text/yaml,application/yaml,application/json" onChange={(e) => void upload(e.target.files?.[0])} />
          </label>
        )}
        <button type="button" onClick={download}>
          Download
        </button>
      </div>
      {uploadError && (
        <p role="alert" className="error">
          {uploadError}
        </p>
      )}
      {errors.length > 0 && (
        <ul className="yaml-errors" id={`${id}-errors`} aria-label="Errors in the YAML">
          {errors.map((e, i) => (
            <li key={i}>
              <button type="button" className="link" onClick={() => goToLine(e.line)}>
                Line {e.line}
              </button>
              : {e.message}
            </li>
          ))}
        </ul>
      )}
      <div className="yaml-frame">
        <div className="yaml-gutter" aria-hidden="true">
          <div style={{ transform: `translateY(${-scroll.top}px)` }}>
            {Array.from({ length: lineCount }, (_, i) => (
              <div key={i} className={byLine.has(i + 1) ? 'yaml-ln yaml-ln-error' : 'yaml-ln'} data-line={i + 1} title={byLine.get(i + 1)?.join('\n')}>
                {byLine.has(i + 1) ? '⚠ ' : ''}
                {i + 1}
              </div>
            ))}
          </div>
        </div>
        <div className="yaml-body">
          <div className="yaml-bands" aria-hidden="true" style={{ transform: `translateY(${-scroll.top}px)` }}>
            {[...byLine.keys()].map((line) => (
              <div key={line} className="yaml-band" style={{ top: (line - 1) * LINE_PX }} />
            ))}
          </div>
          <textarea
            ref={area}
            id={id}
            className="yaml-text"
            value={value}
            readOnly={readOnly}
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            wrap="off"
            rows={Math.min(Math.max(lineCount + 1, 12), 32)}
            aria-invalid={errors.length > 0}
            aria-describedby={errors.length > 0 ? `${id}-errors` : undefined}
            onChange={(e) => onChange(e.target.value)}
            onScroll={(e) => setScroll({ top: e.currentTarget.scrollTop, left: e.currentTarget.scrollLeft })}
          />
          {/* Above the text: each line's messages at its right end (the list above has them in full). */}
          <div className="yaml-notes" aria-hidden="true" style={{ transform: `translateY(${-scroll.top}px)` }}>
            {[...notes.entries()].map(([line, messages]) => (
              <div key={line} className="yaml-note-row" style={{ top: (line - 1) * LINE_PX }}>
                {/* After the line's own text (ch: the editor's monospace width), never over it; clamped to a badge at the right edge for long lines. */}
                <span
                  className="yaml-inline"
                  data-error-line={line}
                  title={messages.join('\n')}
                  style={{ left: `min(calc(0.6em + ${(lines[line - 1] ?? '').replace(/\t/g, '  ').length + 2}ch - ${scroll.left}px), calc(100% - 2.5em))` }}
                >
                  ⚠ {messages.join(' · ')}
                </span>
              </div>
            ))}
          </div>
        </div>
      </div>
    </div>
  );
}
