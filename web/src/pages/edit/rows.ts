/** One `key = value` row of a label, annotation or selector editor (order kept as the user typed). */
export interface Row {
  readonly key: string;
  readonly value: string;
}

/** The rows of a map, sorted by key (what the editor starts from). */
export function rowsOf(map: Readonly<Record<string, string>> | undefined): Row[] {
  return Object.entries(map ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
}

/**
 * The map the rows say. Rows with an empty key and an empty value are left out (a blank row the user
 * added); a row with only a value keeps its empty key, so the server refuses it with its message
 * instead of the console dropping what was typed. A key given twice keeps its last value.
 */
export function mapOf(rows: readonly Row[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const key = r.key.trim();
    if (key === '' && r.value.trim() === '') continue;
    out[key] = r.value;
  }
  return out;
}

/** `a=1, b=2` (sorted by key), or `(none)`: how a map reads in a conflict diff. */
export function showMap(rows: readonly Row[]): string {
  const entries = Object.entries(mapOf(rows)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}
