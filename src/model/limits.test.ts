import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { FieldError } from './field-error.js';
import { SpecInvalidError } from './errors.js';
import { DEFAULT_MAX_REPLICAS, LIMITS, utf8Length } from './limits.js';
import { specLimitErrors } from './spec-limit-errors.js';
import type { ServiceSpec } from './service-spec.js';
import { parseServiceSpec } from './validate-service-spec.js';

/* The limits of model/limits.ts: each one accepted at the limit, refused one past it with the field and the limit named. */

function causes(input: unknown, options: Parameters<typeof parseServiceSpec>[1] = {}): FieldError[] {
  try {
    parseServiceSpec(input, options);
  } catch (e) {
    assert.ok(e instanceof SpecInvalidError, String(e));
    return [...e.causes];
  }
  return [];
}

const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const kv = (n: number): Record<string, string> => Object.fromEntries(many(n, (i) => [`k${i}`, 'v']));
const c = (extra: Record<string, unknown> = {}) => ({ command: ['x'], ...extra });
const spec = (extra: Record<string, unknown> = {}) => ({ name: 'web', containers: [c()], ...extra });

/** [what, spec at the limit, spec one past it, the field, what the message says]. */
const EDGES: ReadonlyArray<readonly [string, (n: number) => unknown, number, string, RegExp]> = [
  ['replicas', (n) => spec({ replicas: n }), DEFAULT_MAX_REPLICAS, 'spec.replicas', /from 0 to 1000/],
  ['containers', (n) => spec({ containers: many(n, (i) => c({ name: `c${i}` })) }), LIMITS.containers, 'spec.containers', /at most 32/],
  ['labels', (n) => spec({ labels: kv(n) }), LIMITS.labels, 'spec.labels', /at most 64 labels/],
  ['selector entries', (n) => ({ name: 'web', containers: [], selector: kv(n) }), LIMITS.labels, 'spec.selector', /at most 64/],
  ['service ports', (n) => spec({ containers: [c({ ports: [{ containerPort: 80 }] })], ports: many(n, (i) => ({ name: `p${i}`, port: 1000 + i, targetPort: 80 })) }), LIMITS.ports, 'spec.ports', /at most 100/],
  ['container ports', (n) => spec({ containers: [c({ ports: many(n, (i) => ({ containerPort: 1000 + i })) })] }), LIMITS.ports, 'spec.containers[0].ports', /at most 100/],
  ['env entries', (n) => spec({ containers: [c({ env: many(n, (i) => `V${i}=x`) })] }), LIMITS.envEntries, 'spec.containers[0].env', /at most 256/],
  ['command items', (n) => spec({ containers: [c({ command: many(n, () => 'x') })] }), LIMITS.argv, 'spec.containers[0].command', /at most 256/],
  ['args', (n) => spec({ containers: [c({ args: many(n, () => 'x') })] }), LIMITS.argv, 'spec.containers[0].args', /at most 256/],
  ['externalIPs', (n) => spec({ externalIPs: many(n, (i) => `127.0.2.${i + 1}`) }), LIMITS.externalIPs, 'spec.externalIPs', /at most 16/],
  ['endpoints', (n) => ({ name: 'web', containers: [], endpoints: many(n, (i) => `10.0.${Math.floor(i / 200)}.${(i % 200) + 1}`) }), LIMITS.endpoints, 'spec.endpoints', /at most 1000/],
  ['env value length', (n) => spec({ containers: [c({ env: { V: 'x'.repeat(n) } })] }), LIMITS.envValueLength, 'spec.containers[0].env[0].value', /32768 characters/],
  ['env name length', (n) => spec({ containers: [c({ env: { [`V${'x'.repeat(n - 1)}`]: '1' } })] }), LIMITS.envNameLength, 'spec.containers[0].env[0].name', /256 characters/],
  ['argument length', (n) => spec({ containers: [c({ args: ['a'.repeat(n)] })] }), LIMITS.argLength, 'spec.containers[0].args[0]', /32768 characters/],
  // A valid reference of n characters: Docker's grammar takes a digest of any algorithm and length.
  ['image length', (n) => spec({ containers: [c({ image: `i@blake3:${'a'.repeat(n - 9)}` })] }), LIMITS.textLength, 'spec.containers[0].image', /1024 characters/],
  ['container labels', (n) => spec({ containers: [c({ labels: kv(n) })] }), LIMITS.labels, 'spec.containers[0].labels', /at most 64 labels/],
  ['mounts', (n) => spec({ containers: [c({ image: 'busybox', mounts: many(n, (i) => ({ type: 'tmpfs', target: `/t${i}` })) })] }), LIMITS.mounts, 'spec.containers[0].mounts', /at most 32/],
  ['workingDir length', (n) => spec({ containers: [c({ workingDir: `/${'d'.repeat(n - 1)}` })] }), LIMITS.pathLength, 'spec.containers[0].workingDir', /4096 characters/],
  ['service name length', (n) => spec({ name: `a${'b'.repeat(n - 1)}` }), LIMITS.nameLength, 'spec.name', /63 characters/],
  ['probe headers', (n) => spec({ containers: [c({ readinessProbe: { httpGet: { port: 80, httpHeaders: many(n, (i) => ({ name: `h${i}`, value: 'v' })) } } })] }), LIMITS.httpHeaders, 'spec.containers[0].readinessProbe.httpGet.httpHeaders', /at most 32/],
  ['a duration in seconds', (n) => spec({ drainTimeout: n }), LIMITS.durationSeconds, 'spec.drainTimeout', /24h \(86400 seconds\)/],
  ['probe seconds', (n) => spec({ containers: [c({ livenessProbe: { tcpSocket: { port: 80 }, timeoutSeconds: n } })] }), LIMITS.durationSeconds, 'spec.containers[0].livenessProbe.timeoutSeconds', /86400/],
];

describe('spec limits', () => {
  for (const [what, make, limit, field, says] of EDGES) {
    it(`accepts ${limit} ${what} and refuses ${limit + 1}, naming ${field} and the limit`, () => {
      assert.deepEqual(causes(make(limit)), [], `${what} at the limit`);
      const refused = causes(make(limit + 1));
      const cause = refused.find((x) => x.field === field);
      assert.ok(cause, `${field} in ${JSON.stringify(refused.map((x) => x.field))}`);
      assert.match(`${cause.type}: ${cause.detail ?? ''}`, says);
    });
  }

  it('refuses a container environment past 256 KiB in all, naming the container\'s env', () => {
    const at = causes(spec({ containers: [c({ env: many(128, (i) => ({ name: `V${String(i).padStart(3, '0')}`, value: 'x'.repeat(2042) })) })] }));
    assert.deepEqual(at, [], '128 × (4 + 2042 + 2) = 262144 bytes is allowed');
    const over = causes(spec({ containers: [c({ env: many(128, (i) => ({ name: `V${String(i).padStart(3, '0')}`, value: 'x'.repeat(2043) })) })] }));
    assert.deepEqual(over.map((x) => [x.field, x.type]), [['spec.containers[0].env', 'Too long']]);
    assert.match(over[0]?.detail ?? '', /262144 bytes/);
  });

  it('takes the replica limit from the options, and names Kontena\'s instances when that was the field given', () => {
    assert.deepEqual(causes(spec({ replicas: 5000 }), { limits: { maxReplicas: 5000 } }), []);
    assert.equal(causes(spec({ replicas: 11 }), { limits: { maxReplicas: 10 } })[0]?.detail?.includes('from 0 to 10 '), true);
    assert.equal(causes(spec({ instances: 2000 }))[0]?.field, 'spec.instances');
    assert.deepEqual(causes({ ...spec({ mode: 'global' }) }, { limits: { maxReplicas: 1 } }), [], 'a global service has no replica count');
  });

  it('shows a long refused value by its start and length, not whole', () => {
    const [cause] = causes(spec({ containers: [c({ image: 'i'.repeat(100_000) })] }));
    assert.ok(JSON.stringify(cause).length < 1000, JSON.stringify(cause).slice(0, 200));
    assert.match(String(cause?.value), /100000 characters/);
  });

  it('counts UTF-8 bytes without allocating', () => {
    assert.equal(utf8Length('abc'), 3);
    assert.equal(utf8Length('é'), 2);
    assert.equal(utf8Length('€'), 3);
    assert.equal(utf8Length('😀'), 4);
    assert.equal(utf8Length('a😀é'), 7);
  });

  it('checks a stored spec (the controller\'s check) without zod: counts, sizes and a replica count that is not a number', () => {
    const stored = parseServiceSpec(spec());
    assert.deepEqual(specLimitErrors(stored, { maxReplicas: 1000 }), []);
    const labelled: ServiceSpec = { ...stored, labels: kv(100), replicas: 'lots' as unknown as number };
    assert.deepEqual(specLimitErrors(labelled, { maxReplicas: 1000 }).map((e) => e.field), ['spec.replicas', 'spec.labels']);
  });

  it('is the table docs/spec.md lists', () => {
    const doc = readFileSync(new URL('../../docs/spec.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Limits'));
    assert.ok(section.length > 0 && doc.includes('## Limits'), 'docs/spec.md has a Limits section');
    for (const [key, value] of Object.entries(LIMITS)) {
      assert.ok(section.includes(`\`${key}\``) && section.includes(value.toLocaleString('en-US')), `docs/spec.md lists ${key} = ${value.toLocaleString('en-US')}`);
    }
    assert.ok(section.includes(DEFAULT_MAX_REPLICAS.toLocaleString('en-US')), 'and the default replica limit');
  });
});
