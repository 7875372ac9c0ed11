/*
 * Sizes and CPU counts as Docker and Kubernetes write them: memory as bytes or with Docker's and
 * Kubernetes' binary units, CPUs as a number of cores or Kubernetes' millicores. Domain-free
 * mechanics, as duration.ts: the spec's validation (model/) and the CLI's flags (cli/) both parse with
 * them; the stored spec holds plain numbers (bytes, cores).
 */

/** Most CPUs a container may ask for (a limit past any real machine; Swarm's NanoCPUs is an int64). */
export const MAX_CPUS = 1024;

const MEMORY = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/;

/**
 * Multipliers of the memory suffixes, all powers of 1024: Docker's `b`, `k`, `m`, `g`, `t` (with an
 * optional `b`: `512mb`; case-insensitive, as `docker run --memory 512m`) and Kubernetes' `Ki`, `Mi`,
 * `Gi`, `Ti`. Kubernetes' decimal `K`/`M`/`G` are read as Docker reads them (1G = 1 GiB), and its `m`
 * (milli) is not: `512m` is 512 MiB, as Docker means it.
 */
const MEMORY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  ki: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

const MEMORY_HINT = 'must be a number of bytes or a size such as 256Mi, 512m, 1G or 1Gi (k, m, g, t and Ki, Mi, Gi, Ti are powers of 1024, as Docker counts)';

/**
 * Bytes of a memory quantity: a whole number of bytes, or a string `256Mi`, `512m`, `1.5G`, `128k`
 * (see MEMORY_UNITS; a fraction of a unit is rounded down to whole bytes).
 * @throws Error saying what a size looks like, for anything else or past Number.MAX_SAFE_INTEGER bytes
 */
export function parseMemoryBytes(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(MEMORY_HINT);
    return value;
  }
  const m = MEMORY.exec(value.trim());
  const unit = m ? MEMORY_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(MEMORY_HINT);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error(`${MEMORY_HINT}; at most ${Number.MAX_SAFE_INTEGER} bytes`);
  return bytes;
}

const CPUS = /^(\d+(?:\.\d+)?)(m?)$/;
const CPUS_HINT = `must be a number of CPUs greater than 0 and at most ${MAX_CPUS}, with at most 3 decimals (0.5, 2), or Kubernetes' millicores ("500m")`;

/**
 * CPUs of a quantity: a number (`0.5`, `2`), the same as a string, or Kubernetes' millicores (`"500m"`
 * = 0.5). More than 0, at most MAX_CPUS, at most 3 decimals (Kubernetes' 1m precision; Swarm's
 * NanoCPUs = cpus × 1e9).
 * @throws Error saying what a CPU quantity looks like
 */
export function parseCpus(value: string | number): number {
  let cpus: number;
  if (typeof value === 'number') cpus = value;
  else {
    const m = CPUS.exec(value.trim());
    if (!m) throw new Error(CPUS_HINT);
    cpus = m[2] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
  }
  const thousandths = cpus * 1000;
  if (!Number.isFinite(cpus) || cpus <= 0 || cpus > MAX_CPUS || Math.abs(thousandths - Math.round(thousandths)) > 1e-6) throw new Error(CPUS_HINT);
  return Math.round(thousandths) / 1000;
}

/** `268435456` → `256Mi`, `1500` → `1500` (bytes): the largest binary unit that divides it, for messages. */
export function formatMemoryBytes(bytes: number): string {
  for (const [unit, size] of [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
