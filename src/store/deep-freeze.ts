/**
 * Freezes a value and everything reachable from it. The store hands the same object to every reader
 * and watcher, so a caller that mutated it would corrupt what others see (Kubernetes' informer caches
 * have the same rule, unenforced; here it is enforced).
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Parses stored JSON into a deep-frozen object. */
export function parseFrozen<T>(json: string): T {
  return deepFreeze(JSON.parse(json) as T);
}

/** JSON with object keys sorted, so that two equal values always give the same string. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * Parsed, frozen objects by their stored JSON text. Readers list the same unchanged rows again and
 * again (a controller re-plans a service of 100 instances on every status batch); an unchanged row has
 * the same text, so it maps to the same frozen object and is neither parsed nor frozen again.
 * Sharing is safe because the objects are frozen. Bounded: the oldest entries go first.
 */
export class FrozenJsonCache {
  private readonly entries = new Map<string, unknown>();

  constructor(private readonly capacity = 20_000) {}

  parse<T>(json: string): T {
    const hit = this.entries.get(json);
    if (hit !== undefined) return hit as T;
    const value = parseFrozen<T>(json);
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(json, value);
    return value;
  }
}
