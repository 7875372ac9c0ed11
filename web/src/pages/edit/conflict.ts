/**
 * A stale edit (docs/console.md, "Edit …", "Conflicts"): every save sends the `version` read when the page
 * loaded, and the server answers 409 VERSION_CONFLICT when the service moved on. The page then shows
 * what the current version holds for the fields of its form next to what the user typed, and lets
 * them re-apply their changes on top of the current version (rebase) or discard them. Nothing is ever
 * written over the newer version without the user seeing it.
 */

/** How a form shows its values field by field, as text (`labels` → `app=shop, tier=web`). */
export type Describe<V> = (values: V) => Readonly<Record<string, string>>;

/** One field of a form where the user's values and the current version's differ. */
export interface FieldDiff {
  readonly field: string;
  readonly mine: string;
  readonly theirs: string;
}

/** The fields (in `describe`'s order) whose text differs between the user's values and the current version's. */
export function conflictDiff<V>(mine: V, current: V, describe: Describe<V>): FieldDiff[] {
  const a = describe(mine);
  const b = describe(current);
  return Object.keys(a).flatMap((field) => (a[field] === b[field] ? [] : [{ field, mine: a[field] ?? '', theirs: b[field] ?? '' }]));
}

/**
 * The user's changes re-applied on the current version: each field the user changed (its text differs
 * between `base`, the values read when the page loaded, and `mine`) takes the user's value; every other
 * field takes the current version's. `describe`'s keys must be keys of V (one text per form field).
 */
export function rebase<V extends object>(base: V, mine: V, current: V, describe: Describe<V>): V {
  const before = describe(base);
  const after = describe(mine);
  const out = { ...current };
  for (const field of Object.keys(after)) {
    if (before[field] !== after[field] && field in mine) (out as Record<string, unknown>)[field] = (mine as Record<string, unknown>)[field];
  }
  return out;
}

/** The fields the user changed since the page loaded (for "you changed: …"). */
export function changedFields<V>(base: V, mine: V, describe: Describe<V>): string[] {
  return conflictDiff(mine, base, describe).map((d) => d.field);
}
