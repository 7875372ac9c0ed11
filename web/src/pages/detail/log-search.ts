/** A piece of a line: matched by the search or not. */
export interface TextPart {
  readonly text: string;
  readonly match: boolean;
}

/**
 * Splits `text` into the parts that match `query` (case-insensitive, literal — not a pattern) and the
 * parts between, in order, for highlighting. An empty query gives the whole text as one unmatched part.
 */
export function highlightParts(text: string, query: string): TextPart[] {
  if (!query) return [{ text, match: false }];
  const lower = text.toLowerCase();
  const needle = query.toLowerCase();
  const parts: TextPart[] = [];
  let from = 0;
  for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, at + needle.length)) {
    if (at > from) parts.push({ text: text.slice(from, at), match: false });
    parts.push({ text: text.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < text.length || parts.length === 0) parts.push({ text: text.slice(from), match: false });
  return parts;
}

/** True when `text` contains `query` (case-insensitive); every line matches an empty query. */
export function matchesSearch(text: string, query: string): boolean {
  return !query || text.toLowerCase().includes(query.toLowerCase());
}

/** Appends lines and keeps the newest `limit` (a new array): what a followed log keeps in the page. */
export function keepNewest<T>(lines: readonly T[], added: readonly T[], limit: number): T[] {
  const next = [...lines, ...added];
  return next.length > limit ? next.slice(next.length - limit) : next;
}
