import { CodedError } from '../lib/index.js';
import { LIMITS, RequestInvalidError } from '../model/index.js';

/*
 * The API's JSON body parser. fastify's default parser (secure-json-parse) answered valid JSON holding
 * `__proto__` with "not valid JSON", and recursed into a body nested 100,000 deep until the stack
 * overflowed (500). This one checks the nesting first, with a loop (no recursion), then parses with
 * JSON.parse (which makes `__proto__` an own property, never a prototype), then walks the value —
 * bounded by the depth already checked — for keys that could pollute a prototype.
 */

/** The one content type a body may have (`application/json`, any parameters such as charset). */
export const JSON_CONTENT_TYPE = 'application/json';

/** The body of a request sent with a content type other than application/json (HTTP 415). */
export class UnsupportedMediaTypeError extends CodedError {
  constructor(contentType: string | undefined) {
    const got = contentType === undefined || contentType === '' ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType)}`;
    super('UNSUPPORTED_MEDIA_TYPE', `body: sent with ${got}; berth's API takes request bodies as ${JSON_CONTENT_TYPE} only (send the header Content-Type: ${JSON_CONTENT_TYPE})`, {
      contentType: contentType ?? null,
      expected: JSON_CONTENT_TYPE,
      causes: [{ field: 'body', message: `Content-Type must be ${JSON_CONTENT_TYPE}` }],
    });
  }
}

/** A body over LIMITS.bodyBytes (HTTP 413). */
export class BodyTooLargeError extends CodedError {
  constructor() {
    const message = `must be no more than ${LIMITS.bodyBytes} bytes (1 MiB, berth's limit of a request body)`;
    super('BODY_TOO_LARGE', `body: ${message}`, { limit: LIMITS.bodyBytes, causes: [{ field: 'body', message }] });
  }
}

/**
 * Parses a request body. Empty (or only whitespace) is no body: `undefined`.
 * @throws RequestInvalidError (400) naming `body` for malformed JSON or nesting past LIMITS.bodyDepth,
 *   and naming the key's path (`spec.containers[0].__proto__`) for a `__proto__` key or a
 *   `constructor` object holding `prototype`.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  checkDepth(text, LIMITS.bodyDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const why = (error as Error).message;
    throw new RequestInvalidError(`body: not valid JSON (${why})`, { causes: [{ field: 'body', message: `not valid JSON: ${why}` }] });
  }
  const polluting = pollutingKey(value, []);
  if (polluting) {
    const { field, key } = polluting;
    const message =
      key === '__proto__'
        ? 'a key named "__proto__" is refused: it names an object\'s prototype (prototype pollution); no berth field is called that, remove the key'
        : 'a "constructor" object holding "prototype" is refused (prototype pollution); no berth field is called that, remove the key';
    throw new RequestInvalidError(`${field}: ${message}`, { causes: [{ field, message }] });
  }
  return value;
}

/** Counts the nesting of `{`/`[` outside strings in one pass; throws past `max`. */
function checkDepth(text: string, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        const message = `nested deeper than ${max} levels of objects and arrays (berth's limit; a service spec needs at most 8)`;
        throw new RequestInvalidError(`body: ${message}`, { causes: [{ field: 'body', message }], limit: max });
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
}

/** The first `__proto__` key, or `constructor` key whose value holds `prototype`, with its path. */
function pollutingKey(value: unknown, path: readonly (string | number)[]): { field: string; key: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = pollutingKey(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (key === '__proto__' || (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype'))) {
      return { field: formatPath([...path, key]), key };
    }
    const found = pollutingKey(child, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** `spec.containers[0].__proto__`; the top level is the key alone. */
function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}
