import { describe, expect, it } from 'vitest';
import { highlightParts, keepNewest, matchesSearch } from './log-search.js';

describe('highlightParts', () => {
  it('gives the whole line unmatched for an empty search', () => {
    expect(highlightParts('web-1 listening', '')).toEqual([{ text: 'web-1 listening', match: false }]);
  });
  it('marks every match case-insensitively and keeps the original case', () => {
    expect(highlightParts('Error: bad error', 'error')).toEqual([
      { text: 'Error', match: true },
      { text: ': bad ', match: false },
      { text: 'error', match: true },
    ]);
  });
  it('treats the query literally, not as a pattern', () => {
    expect(highlightParts('a.b axb', '.')).toEqual([
      { text: 'a', match: false },
      { text: '.', match: true },
      { text: 'b axb', match: false },
    ]);
  });
  it('joins back into the same text', () => {
    const parts = highlightParts('GET /health 200 /health', '/health');
    expect(parts.map((p) => p.text).join('')).toBe('GET /health 200 /health');
    expect(parts.filter((p) => p.match)).toHaveLength(2);
  });
});

describe('matchesSearch and keepNewest', () => {
  it('filters lines by the search', () => {
    expect(matchesSearch('web-1 listening', 'LISTEN')).toBe(true);
    expect(matchesSearch('web-1 listening', 'exit')).toBe(false);
    expect(matchesSearch('anything', '')).toBe(true);
  });
  it('keeps only the newest lines', () => {
    expect(keepNewest([1, 2, 3], [4, 5], 4)).toEqual([2, 3, 4, 5]);
    expect(keepNewest([1], [2], 4)).toEqual([1, 2]);
  });
});
