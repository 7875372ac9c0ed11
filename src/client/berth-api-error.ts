/**
 * An error answer of the berth API, or a failure to reach it.
 *
 * `code` is the server's stable code (docs/errors.md: `SPEC_INVALID`, `VERSION_CONFLICT`, …) or one the
 * client adds: `SERVER_UNREACHABLE` (no answer at all; `status` 0) and `HTTP_<status>` (an answer that
 * is not berth's `{code, message, details}` body, e.g. from a proxy in between).
 */
export class BerthApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(status: number, code: string, message: string, details: Readonly<Record<string, unknown>> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BerthApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /**
   * The field errors of a `SPEC_INVALID` answer (`{ field: 'spec.ports[1].name', message:
   * 'spec.ports[1].name: Required value' }`); empty for other codes.
   */
  get causes(): { field: string; message: string }[] {
    const causes = this.details['causes'];
    if (!Array.isArray(causes)) return [];
    return causes.flatMap((c: unknown) => {
      if (typeof c !== 'object' || c === null) return [];
      const { field, message } = c as { field?: unknown; message?: unknown };
      if (typeof message !== 'string') return [];
      return [{ field: typeof field === 'string' ? field : '', message }];
    });
  }
}

/** True when `e` is a BerthApiError with the given code (`isApiError(e, 'SERVICE_NOT_FOUND')`). */
export function isApiError(e: unknown, code?: string): e is BerthApiError {
  return e instanceof BerthApiError && (code === undefined || e.code === code);
}

/**
 * The error of a stream's `{"error": {code, message, details}}` line (api/ndjson-stream.ts `fail`: how a
 * server that has sent its status line says the stream failed), or undefined for any other value.
 */
export function streamErrorOf(value: unknown): BerthApiError | undefined {
  if (typeof value !== 'object' || value === null || !('error' in value)) return undefined;
  const body = (value as { error: unknown }).error;
  if (typeof body !== 'object' || body === null) return undefined;
  const { code, message, details } = body as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return new BerthApiError(0, code, message, typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {});
}
