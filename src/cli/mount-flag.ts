import { parseMemoryBytes } from '../lib/index.js';

/** One `--mount` value as the spec takes it (docs/spec.md, `mounts`). */
export interface MountInput {
  readonly type: 'bind' | 'volume' | 'tmpfs';
  readonly source?: string;
  readonly target: string;
  readonly readOnly: boolean;
  readonly tmpfsSize?: number;
}

const FORM = 'expected type=bind|volume|tmpfs,source=SRC,target=/PATH[,readonly][,tmpfs-size=64m] (Docker\'s --mount syntax)';

/** Docker's --mount keys that berth does not carry into the spec. */
const UNSUPPORTED = new Set(['bind-propagation', 'bind-nonrecursive', 'consistency', 'volume-driver', 'volume-label', 'volume-nocopy', 'volume-opt', 'tmpfs-mode']);

/**
 * Parses one `--mount` value in Docker's syntax: comma-separated `key=value` fields (a field may be
 * double-quoted to hold a comma), keys `type` (default `volume`, as Docker), `source`/`src`,
 * `target`/`destination`/`dst`, `readonly`/`ro` (alone, or `=true|false|1|0`) and `tmpfs-size`
 * (bytes, or 64m, 1g as Docker counts). What the combination means (a bind mount needs a source …)
 * is the server's to check.
 * @throws MountFlagError naming what is wrong and showing the accepted form
 */
export function parseMountFlag(value: string): MountInput {
  let type: MountInput['type'] = 'volume';
  let source: string | undefined;
  let target: string | undefined;
  let readOnly = false;
  let tmpfsSize: number | undefined;
  for (const field of splitFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? undefined : field.slice(eq + 1);
    if (key === 'readonly' || key === 'ro') {
      readOnly = booleanValue(value, key, v);
      continue;
    }
    if (v === undefined || v === '') throw new MountFlagError(`"${value}": ${key === '' ? 'an empty field' : `"${key}" needs a value`}; ${FORM}`);
    switch (key) {
      case 'type':
        if (v !== 'bind' && v !== 'volume' && v !== 'tmpfs') throw new MountFlagError(`"${value}": type must be bind, volume or tmpfs, not "${v}"`);
        type = v;
        break;
      case 'source':
      case 'src':
        source = v;
        break;
      case 'target':
      case 'destination':
      case 'dst':
        target = v;
        break;
      case 'tmpfs-size':
        try {
          tmpfsSize = parseMemoryBytes(v);
        } catch (e) {
          throw new MountFlagError(`"${value}": tmpfs-size ${(e as Error).message}`);
        }
        break;
      default:
        throw new MountFlagError(UNSUPPORTED.has(key) ? `"${value}": berth does not support the mount option ${key}` : `"${value}": unknown field "${key}"; ${FORM}`);
    }
  }
  if (target === undefined) throw new MountFlagError(`"${value}": target is required; ${FORM}`);
  return { type, ...(source !== undefined ? { source } : {}), target, readOnly, ...(tmpfsSize !== undefined ? { tmpfsSize } : {}) };
}

/** Docker's booleans of --mount: absent (true), true/false, 1/0. */
function booleanValue(value: string, key: string, v: string | undefined): boolean {
  if (v === undefined) return true;
  const lower = v.trim().toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw new MountFlagError(`"${value}": ${key} must be true or false, not "${v}"`);
}

/** `a=1,"b=x,y"` → ['a=1', 'b=x,y'] (Docker reads --mount as one CSV record). */
function splitFields(value: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of value) {
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      fields.push(current);
      current = '';
    } else current += c;
  }
  if (quoted) throw new MountFlagError(`"${value}": unterminated quote`);
  fields.push(current);
  return fields;
}

export class MountFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountFlagError';
  }
}
