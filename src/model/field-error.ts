/**
 * One reason a spec was refused, in Kubernetes' field-error form:
 * `spec.ports[1].name: Required value`, `spec.name: Invalid value: "Web": a DNS-1035 label must …`.
 */
export type FieldErrorType =
  | 'Required value'
  | 'Invalid value'
  | 'Unsupported value'
  | 'Duplicate value'
  | 'Forbidden'
  | 'Unknown field'
  | 'Too long'
  | 'Not found'
  /** A list or map with more items than berth's limit (model/limits.ts), as Kubernetes' field.TooMany. */
  | 'Too many';

export interface FieldError {
  /** Path from the request root, e.g. `spec.containers[0].ports[1].name`. */
  readonly field: string;
  readonly type: FieldErrorType;
  /** The offending value, when there is one to show. */
  readonly value?: unknown;
  /** What is wrong and how to fix it. */
  readonly detail?: string;
}

/** Renders a FieldError the way kubectl does. */
export function formatFieldError(e: FieldError): string {
  const shown = e.value === undefined ? '' : `: ${JSON.stringify(e.value)}`;
  switch (e.type) {
    case 'Required value':
      return `${e.field}: Required value${e.detail ? `: ${e.detail}` : ''}`;
    case 'Unknown field':
      return `${e.field}: Unknown field${e.detail ? `: ${e.detail}` : ''}`;
    case 'Forbidden':
      return `${e.field}: Forbidden: ${e.detail ?? 'not allowed'}`;
    default:
      return `${e.field}: ${e.type}${shown}${e.detail ? `: ${e.detail}` : ''}`;
  }
}
