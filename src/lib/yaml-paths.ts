import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { ShownServiceError, unwrapShownService } from './shown-service.js';

/*
 * Where an API field path is written in a YAML document: the CLI's manifests (`app.yaml:7:9`) and the
 * console's YAML editor (an error at its line) map the server's SPEC_INVALID causes
 * (`spec.containers[0].ports[1].name`) back to the text the user wrote. Pure: the `yaml` package only,
 * nothing of berth's but shown-service.ts, so the browser build may import this file
 * (.dependency-cruiser.cjs).
 */

export { ShownServiceError, unwrapShownService } from './shown-service.js';
export type { UnwrappedService } from './shown-service.js';

/** `spec.containers[0].ports[1].name` → ['containers', 0, 'ports', 1, 'name'] (the leading `spec` is the document). */
export function fieldPath(field: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) parts.push(Number(m[2]));
    else if (m[1] !== undefined) parts.push(m[1]);
  }
  if (parts[0] === 'spec') parts.shift();
  return parts;
}

/** The offset where the node at `path` starts in the document, or undefined when there is none. */
export function nodeStart(doc: Document.Parsed, path: readonly (string | number)[]): number | undefined {
  const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  return node && typeof node === 'object' && node.range ? node.range[0] : undefined;
}

/**
 * The offset of the node at an API field path, or of its nearest parent present in the document
 * (a missing `spec.ports[0].name` points at `ports[0]`); undefined when not even the first step is written.
 * @param specPath where the spec's fields are in the document: [] for a bare spec, ['spec'] for a shown service
 */
export function locateField(doc: Document.Parsed, field: string, specPath: readonly string[]): number | undefined {
  const path = [...specPath, ...fieldPath(field)];
  for (let n = path.length; n > 0; n--) {
    const offset = nodeStart(doc, path.slice(0, n));
    if (offset !== undefined) return offset;
  }
  return undefined;
}

/** A problem at a place in the text: 1-based line and column. */
export interface TextProblem {
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** One YAML document read as a service spec, with what is needed to point back into its text. */
export type SpecDocument =
  | {
      readonly ok: true;
      /** The spec to send: a bare spec, or the `spec:` of a whole service as `show -o yaml` prints it. */
      readonly spec: Record<string, unknown>;
      /** Where the spec's fields are: [] or ['spec']. */
      readonly specPath: readonly string[];
      /** 1-based line and column of an API field path (or its nearest written parent; else line 1). */
      locate(field: string): { readonly line: number; readonly col: number };
    }
  | { readonly ok: false; readonly problems: readonly TextProblem[] };

/**
 * Reads one YAML document as a service spec (the console's YAML editor). A bare spec and a whole
 * service (`berth service show NAME -o yaml`: spec under `spec:`, server-written fields ignored) are
 * both accepted; `kind: Service` is removed as the CLI's manifests remove it.
 * Never throws: YAML syntax errors, a document that is not a mapping, a second document, and the
 * shown-service shape's errors come back as `problems` at their lines.
 */
export function readSpecDocument(text: string): SpecDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const pos = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);
  const problems: TextProblem[] = doc.errors.map((e) => {
    const at = e.linePos?.[0] ?? pos(e.pos[0]);
    return { line: at.line, col: at.col, message: firstLine(e.message) };
  });
  if (problems.length > 0) return { ok: false, problems };
  const start = doc.contents?.range?.[0] ?? 0;
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { ok: false, problems: [{ ...pos(0), message: 'the document is empty: write a service spec (name:, containers: …)' }] };
  }
  if (!isMap(doc.contents)) return { ok: false, problems: [{ ...pos(start), message: 'the document is not a mapping: it must be one service spec' }] };
  const raw = doc.toJS() as Record<string, unknown>;
  let shown;
  try {
    shown = unwrapShownService(raw);
  } catch (e) {
    if (!(e instanceof ShownServiceError)) throw e;
    return { ok: false, problems: [{ ...pos(nodeStart(doc, [e.key]) ?? start), message: e.message }] };
  }
  const { kind, grid: _grid, ...spec } = shown?.document ?? raw;
  if (kind !== undefined && kind !== 'Service') {
    return { ok: false, problems: [{ ...pos(nodeStart(doc, ['kind']) ?? start), message: `kind ${JSON.stringify(kind)}: this editor holds a service (kind: Service)` }] };
  }
  const specPath = shown?.specPath ?? [];
  return { ok: true, spec, specPath, locate: (field) => pos(locateField(doc, field, specPath) ?? start) };
}

/** The first line of a yaml error message, without the trailing `at line N, column M:`. */
export function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
