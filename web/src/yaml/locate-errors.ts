/*
 * The YAML editor's error mapping (docs/console.md, "Create", "Edit by YAML"): the server's SPEC_INVALID
 * causes (`spec.containers[0].ports[1].name: Invalid value …`) → the line of the text where that field
 * is written, by the same path rules as the CLI's `apply` (src/lib/yaml-paths.ts).
 */
import type { ServiceSpecInput } from '../../../src/model/index.js';
// The one module of lib/ the console may import (.dependency-cruiser.cjs): pure, the yaml package only.
import { readSpecDocument } from '../../../src/lib/yaml-paths.js';

/** An error at a line of the editor's text (1-based). */
export interface LineError {
  readonly line: number;
  readonly message: string;
  /** The API field path the message is about (its line note leaves out that prefix). */
  readonly field?: string;
}

/** A field error as BerthApiError.causes gives it. */
export interface FieldCause {
  readonly field: string;
  readonly message: string;
}

/** What the editor's text holds: the spec to send, or the problems that keep it from being one. */
export type ReadSpec = { readonly ok: true; readonly spec: ServiceSpecInput } | { readonly ok: false; readonly errors: readonly LineError[] };

/**
 * Reads the editor's text as one service spec: a bare spec or a whole service as `berth service show
 * NAME -o yaml` prints it (spec under `spec:`; id, version, status … ignored).
 * @returns the spec, or the YAML syntax errors (and shape errors) at their lines
 */
export function readSpec(text: string): ReadSpec {
  const read = readSpecDocument(text);
  if (!read.ok) return { ok: false, errors: read.problems.map((p) => ({ line: p.line, message: p.message })) };
  return { ok: true, spec: read.spec as ServiceSpecInput };
}

/**
 * Each cause at the line of its field in `text` — or of the nearest parent that is written there
 * (a missing `spec.ports[0].name` points at the `ports` item); a cause without a field (or a text
 * that no longer parses) at line 1. A YAML syntax error in `text` comes back as itself, at its line.
 * Sorted by line, in the server's order within a line.
 */
export function locateErrors(text: string, causes: readonly FieldCause[]): LineError[] {
  const read = readSpecDocument(text);
  if (!read.ok) return read.problems.map((p) => ({ line: p.line, message: p.message }));
  const located = causes.map((c, i) => ({ line: c.field ? read.locate(c.field).line : 1, message: c.message, i, field: c.field }));
  return located.sort((a, b) => a.line - b.line || a.i - b.i).map(({ line, message, field }) => (field ? { line, message, field } : { line, message }));
}
