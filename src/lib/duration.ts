import { CodedError } from './coded-error.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;

/**
 * Parses a Go-style duration ("500ms", "5s", "1m30s", "2h") or a number of seconds (Kontena and
 * Kubernetes give durations as integer seconds) into milliseconds.
 * @throws CodedError `DURATION_INVALID` for anything else.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new CodedError('DURATION_INVALID', `invalid duration: ${input}`);
    return input * 1000;
  }
  const s = input.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (s === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  while (consumed < s.length) {
    PART.lastIndex = consumed;
    const m = PART.exec(s);
    if (!m) throw new CodedError('DURATION_INVALID', `invalid duration "${input}": use forms like 500ms, 5s, 1m30s`);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = PART.lastIndex;
  }
  if (s.length === 0) throw new CodedError('DURATION_INVALID', 'invalid duration "": use forms like 500ms, 5s, 1m30s');
  return Math.round(total);
}

/** Formats milliseconds as the shortest Go-style duration: 0s, 250ms, 5s, 1m30s, 2h. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += rest % 1000 === 0 ? `${rest / 1000}s` : `${rest / 1000}s`;
  return out;
}
