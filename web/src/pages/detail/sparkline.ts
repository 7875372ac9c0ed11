/**
 * The points of an inline SVG sparkline (a `<polyline points>` string) for a series of samples,
 * oldest first, in a `width` × `height` box: x spreads the samples evenly (one sample: a flat line
 * across), y scales from 0 at the bottom to `max` at the top, where `max` is the largest sample but at
 * least `floor` (so 0.3 % of a core does not draw as a full-height spike). Negative or non-finite
 * samples count as 0. An empty series gives ''.
 */
export function sparklinePoints(values: readonly number[], box: { readonly width: number; readonly height: number }, options: { readonly floor?: number } = {}): string {
  if (values.length === 0) return '';
  const clean = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const max = Math.max(options.floor ?? 0, ...clean);
  const y = (v: number): number => round(max > 0 ? box.height - (v / max) * box.height : box.height);
  if (clean.length === 1) return `0,${y(clean[0] ?? 0)} ${box.width},${y(clean[0] ?? 0)}`;
  const step = box.width / (clean.length - 1);
  return clean.map((v, i) => `${round(i * step)},${y(v)}`).join(' ');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Keeps the last `limit` samples of a series with `value` appended (a new array; the input is not changed). */
export function appendSample(series: readonly number[] | undefined, value: number, limit: number): number[] {
  const next = [...(series ?? []), value];
  return next.length > limit ? next.slice(next.length - limit) : next;
}

/** `1.2 %` of one core (as `docker stats`). */
export function formatCpu(percent: number): string {
  return `${percent < 10 ? percent.toFixed(1) : Math.round(percent)} %`;
}

/** `512 KiB`, `34.5 MiB`, `1.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}
