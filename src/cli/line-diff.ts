/*
 * A unified diff of two texts, line by line, for `berth diff` (the `diff -u` format kubectl diff
 * prints). The common head and tail are cut first; the rest is an LCS table when it is small enough
 * (a spec's changed middle is), else shown as all removed then all added — still a correct diff.
 */

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: string };

/** Cells of the LCS table past which the middle is shown as a plain replacement (16 MiB of Uint32). */
const MAX_TABLE_CELLS = 4_000_000;

/**
 * The hunks of `diff -u before after` (without the `---`/`+++` header): `@@ -1,3 +1,4 @@` then lines
 * prefixed ' ', '-' or '+'. Empty when the texts are equal.
 * @param context  unchanged lines shown around each change (diff's default 3)
 */
export function unifiedHunks(before: string, after: string, context = 3): string[] {
  const ops = diffLines(splitLines(before), splitLines(after));
  // Line numbers before each op, in the old and the new text (1-based).
  const oldAt: number[] = [];
  const newAt: number[] = [];
  let o = 1;
  let n = 1;
  for (const op of ops) {
    oldAt.push(o);
    newAt.push(n);
    if (op.kind !== '+') o++;
    if (op.kind !== '-') n++;
  }
  // Windows of `context` lines around each change, merged when they touch.
  const windows: [number, number][] = [];
  ops.forEach((op, k) => {
    if (op.kind === ' ') return;
    const from = Math.max(0, k - context);
    const to = Math.min(ops.length, k + 1 + context);
    const last = windows[windows.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else windows.push([from, to]);
  });
  const out: string[] = [];
  for (const [from, to] of windows) {
    const hunk = ops.slice(from, to);
    const oldCount = hunk.filter((x) => x.kind !== '+').length;
    const newCount = hunk.filter((x) => x.kind !== '-').length;
    out.push(`@@ -${range(oldAt[from] as number, oldCount)} +${range(newAt[from] as number, newCount)} @@`);
    for (const x of hunk) out.push(`${x.kind}${x.line}`);
  }
  return out;
}

function range(line: number, count: number): string {
  // diff -u names the line before an empty range (0 for an empty file).
  if (count === 0) return `${line - 1},0`;
  return count === 1 ? `${line}` : `${line},${count}`;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Equal lines as ' ', the rest as '-' then '+', in order. */
export function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const same = (lines: readonly string[]): Op[] => lines.map((line) => ({ kind: ' ', line }));
  return [...same(a.slice(0, head)), ...diffMiddle(midA, midB), ...same(a.slice(a.length - tail))];
}

function diffMiddle(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > MAX_TABLE_CELLS) {
    return [...a.map((line): Op => ({ kind: '-', line })), ...b.map((line): Op => ({ kind: '+', line }))];
  }
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], row-major in one array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? (lcs[(i + 1) * width + j + 1] as number) + 1 : Math.max(lcs[(i + 1) * width + j] as number, lcs[i * width + j + 1] as number);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i] as string });
      i++;
      j++;
    } else if ((lcs[(i + 1) * width + j] as number) >= (lcs[i * width + j + 1] as number)) {
      ops.push({ kind: '-', line: a[i++] as string });
    } else {
      ops.push({ kind: '+', line: b[j++] as string });
    }
  }
  while (i < n) ops.push({ kind: '-', line: a[i++] as string });
  while (j < m) ops.push({ kind: '+', line: b[j++] as string });
  return ops;
}
