/** The YAML editor and its error mapping, for the Create (kind yaml) and Edit YAML pages. */
export { YamlEditor } from './yaml-editor.js';
export type { YamlEditorProps } from './yaml-editor.js';
export { locateErrors, readSpec } from './locate-errors.js';
export type { FieldCause, LineError, ReadSpec } from './locate-errors.js';
