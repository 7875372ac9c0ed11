import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../model/index.js';
import { ERROR_STATUS } from './error-status.js';

describe('the error catalogue', () => {
  it('docs/errors.md lists every code with the status the API answers', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const rows = new Map([...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}|—) \|/gm)].map(([, code, status]) => [code, status]));
    for (const code of ERROR_CODES) {
      assert.equal(rows.get(code), String(ERROR_STATUS[code]), `docs/errors.md: ${code} is listed with ${ERROR_STATUS[code]}`);
    }
  });
});
