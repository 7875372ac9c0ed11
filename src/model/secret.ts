/**
 * A secret of a grid (Swarm's and Kubernetes' Secret): named values that containers take as env vars
 * (`valueFrom.secretKeyRef`). Write-only, as Swarm's: the API lists names and keys, never values.
 */
export interface SecretInfo {
  readonly grid: string;
  readonly name: string;
  /** The keys it holds, sorted. */
  readonly keys: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Limits of one secret (Kubernetes caps a Secret at 1 MiB; berth's values go into env vars). */
export const SECRET_LIMITS = {
  /** Keys per secret. */
  keys: 100,
  /** Bytes of all values together (UTF-8). */
  totalBytes: 256 * 1024,
} as const;
