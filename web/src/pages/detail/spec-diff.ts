/** One changed key between two versions of a spec, by its path (`containers[0].env[1].value`). */
export interface SpecChange {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  /** The value before (absent when added), as short JSON. */
  readonly before?: string;
  /** The value after (absent when removed), as short JSON. */
  readonly after?: string;
}

/** Longest value text a change shows; longer ones end in `…`. */
export const DIFF_VALUE_MAX = 80;

/**
 * What changed from one spec to the next (the History tab): every leaf that differs, by path, in
 * the order of the keys of `after` then those only in `before`. Objects are compared key by key,
 * arrays index by index (so one changed env var is one change, not the whole list). Values are shown
 * as JSON cut at DIFF_VALUE_MAX characters. `before` undefined (the first version) gives [].
 */
export function specDiff(before: unknown, after: unknown): SpecChange[] {
  if (before === undefined) return [];
  const out: SpecChange[] = [];
  walk(before, after, '', out);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: SpecChange[]): void {
  if (isContainer(a) && isContainer(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = Array.isArray(b)
      ? Array.from({ length: Math.max((a as unknown[]).length, b.length) }, (_, i) => String(i))
      : [...new Set([...Object.keys(b), ...Object.keys(a)])];
    for (const key of keys) {
      const child = Array.isArray(b) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      const av = (a as Record<string, unknown>)[key];
      const bv = (b as Record<string, unknown>)[key];
      if (av === undefined && bv === undefined) continue;
      if (av === undefined) out.push({ path: child, kind: 'added', after: show(bv) });
      else if (bv === undefined) out.push({ path: child, kind: 'removed', before: show(av) });
      else walk(av, bv, child, out);
    }
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path: path || '(spec)', kind: 'changed', before: show(a), after: show(b) });
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === 'object' && v !== null;
}

function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > DIFF_VALUE_MAX ? `${text.slice(0, DIFF_VALUE_MAX - 1)}…` : text;
}
