/*
 * `berth service show NAME -o yaml` prints the whole service object — its spec under `spec:`, and what
 * the server writes (id, version, status …) beside it. `apply` (and `service edit`) accept that
 * document back, as kubectl applies what `kubectl get -o yaml` printed: the spec is taken from `spec`,
 * `grid` from its place, and the server-written fields are ignored. A plain spec document (the usual
 * manifest) has no `spec` key, so the two forms cannot be confused.
 */

/** Fields of a service object that the server writes; apply ignores them (kubectl: status, metadata.uid …). */
export const READ_ONLY_SERVICE_FIELDS: readonly string[] = ['id', 'version', 'generation', 'createdAt', 'updatedAt', 'deployment', 'desired', 'status', 'explanation'];

/** The keys a service object may have beside the read-only ones. */
const OBJECT_FIELDS: readonly string[] = ['kind', 'grid', 'name', 'spec'];

export interface UnwrappedService {
  /** The document in manifest form: `kind`, `grid` and the spec's fields at the top. */
  readonly document: Record<string, unknown>;
  /** Where the spec's fields are in the original document (`['spec']`). */
  readonly specPath: readonly string[];
  /** Read-only fields that were present and ignored. */
  readonly ignored: readonly string[];
}

/** Why a service object cannot be applied, with the top-level key to point at. */
export class ShownServiceError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = 'ShownServiceError';
  }
}

/**
 * The manifest form of a document that is a service object (it has a `spec` mapping), or undefined for
 * a plain spec document.
 * @throws ShownServiceError for a key that is neither a service object's nor read-only (a spec field
 *   written beside `spec:` instead of under it), or a `name` that differs from `spec.name`
 */
export function unwrapShownService(raw: Record<string, unknown>): UnwrappedService | undefined {
  const spec = raw['spec'];
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return undefined;
  const ignored: string[] = [];
  for (const key of Object.keys(raw)) {
    if (READ_ONLY_SERVICE_FIELDS.includes(key)) ignored.push(key);
    else if (!OBJECT_FIELDS.includes(key)) {
      throw new ShownServiceError(`\`${key}\` is not a field of a service object: this document has its spec under \`spec:\`, so \`${key}\` belongs there`, key);
    }
  }
  const inner = spec as Record<string, unknown>;
  const name = raw['name'];
  if (name !== undefined && inner['name'] !== undefined && name !== inner['name']) {
    throw new ShownServiceError(`name ${JSON.stringify(name)} and spec.name ${JSON.stringify(inner['name'])} differ: a service cannot be renamed (create a new one)`, 'name');
  }
  const document: Record<string, unknown> = {
    ...(raw['kind'] !== undefined ? { kind: raw['kind'] } : {}),
    ...(raw['grid'] !== undefined ? { grid: raw['grid'] } : {}),
    ...(name !== undefined && inner['name'] === undefined ? { name } : {}),
    ...inner,
  };
  return { document, specPath: ['spec'], ignored };
}
