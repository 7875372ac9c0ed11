/**
 * Base class of every error berth raises on purpose. `code` is stable and documented in docs/errors.md;
 * api/ maps it to an HTTP status in one table. `details` is JSON that clients may read
 * (e.g. `{ causes: [{ field, message }] }` or `{ currentVersion }`).
 */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True when `e` is a CodedError with the given code (works across module copies by duck typing). */
export function hasCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
