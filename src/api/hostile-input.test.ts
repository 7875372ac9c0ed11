import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { openSqliteStore } from '../store/index.js';
import type { SqliteStore } from '../store/index.js';
import { FakeTelemetry, createApi } from './index.js';
import { adminAuthenticator } from './testing/fixtures.js';

/*
 * Malformed and hostile API input, each kind seen or feared in a review: every one is answered with a
 * 4xx, a stable code and the offending field named in details.causes (and the message), nothing is
 * stored (the store's revision does not move), and the server still answers afterwards.
 */

const BASE = '/v1/grids/default/services';
const JSON_HEADERS = { 'content-type': 'application/json' };

type Case = {
  readonly name: string;
  readonly request: InjectOptions;
  readonly status: number;
  readonly code: string;
  /** A field that details.causes[].field names exactly. */
  readonly field: string;
  /** What the message must also say (the limit, the expected type …). */
  readonly mentions?: RegExp;
};

const container = (extra: Record<string, unknown> = {}) => ({ command: ['sleep', '1000'], ...extra });
const spec = (extra: Record<string, unknown> = {}) => ({ name: 'x', containers: [container()], ...extra });
const create = (s: unknown, extra: Record<string, unknown> = {}): InjectOptions => ({ method: 'POST', url: BASE, payload: { spec: s, ...extra } as object });
const raw = (payload: string, headers: Record<string, string> = JSON_HEADERS, url = BASE, method: InjectOptions['method'] = 'POST'): InjectOptions => ({ method, url, payload, headers });
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const kv = (n: number, f: (i: number) => [string, string]): Record<string, string> => Object.fromEntries(many(n, f));
const specCase = (name: string, s: unknown, field: string, mentions?: RegExp): Case => ({ name, request: create(s), status: 400, code: 'SPEC_INVALID', field, ...(mentions ? { mentions } : {}) });
const probe = (p: Record<string, unknown>) => spec({ containers: [container({ ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: p })] });

const CASES: readonly Case[] = [
  // ── the body itself ──
  { name: 'JSON arrays nested 100,000 deep', request: raw(`{"spec":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), status: 400, code: 'REQUEST_INVALID', field: 'body', mentions: /32 levels/ },
  { name: 'JSON objects nested 50,000 deep', request: raw(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`), status: 400, code: 'REQUEST_INVALID', field: 'body', mentions: /32 levels/ },
  { name: 'JSON nested one level past the limit', request: raw(`{"spec":${'['.repeat(32)}${']'.repeat(32)}}`), status: 400, code: 'REQUEST_INVALID', field: 'body', mentions: /32 levels/ },
  { name: 'an unclosed nesting of 200,000 brackets', request: raw('['.repeat(200_000)), status: 400, code: 'REQUEST_INVALID', field: 'body' },
  { name: '__proto__ at the top of the body', request: raw('{"__proto__":{"polluted":1},"spec":{"name":"x","containers":[{"command":["x"]}]}}'), status: 400, code: 'REQUEST_INVALID', field: '__proto__', mentions: /prototype/ },
  { name: '__proto__ in the spec', request: raw('{"spec":{"name":"x","__proto__":{"replicas":5},"containers":[{"command":["x"]}]}}'), status: 400, code: 'REQUEST_INVALID', field: 'spec.__proto__', mentions: /prototype/ },
  { name: '__proto__ in a container', request: raw('{"spec":{"name":"x","containers":[{"command":["x"],"__proto__":{"user":"root"}}]}}'), status: 400, code: 'REQUEST_INVALID', field: 'spec.containers[0].__proto__' },
  { name: '__proto__ as a label key', request: raw('{"spec":{"name":"x","labels":{"__proto__":{"a":"b"}},"containers":[{"command":["x"]}]}}'), status: 400, code: 'REQUEST_INVALID', field: 'spec.labels.__proto__' },
  { name: 'constructor.prototype in the spec', request: raw('{"spec":{"name":"x","constructor":{"prototype":{"a":1}},"containers":[{"command":["x"]}]}}'), status: 400, code: 'REQUEST_INVALID', field: 'spec.constructor', mentions: /prototype/ },
  { name: 'constructor.prototype in an action body', request: raw('{"constructor":{"prototype":{"force":true}}}', JSON_HEADERS, `${BASE}/web/deploy`), status: 400, code: 'REQUEST_INVALID', field: 'constructor' },
  { name: 'Content-Type text/plain', request: raw(JSON.stringify({ spec: spec() }), { 'content-type': 'text/plain' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body', mentions: /application\/json/ },
  { name: 'a form body', request: raw('spec=x', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body', mentions: /application\/json/ },
  { name: 'an XML body', request: raw('<spec/>', { 'content-type': 'application/xml' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body' },
  { name: 'a multipart body', request: raw('--b\r\n\r\nx\r\n--b--', { 'content-type': 'multipart/form-data; boundary=b' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body' },
  { name: 'JSON merge patch instead of JSON', request: raw(JSON.stringify({ spec: spec() }), { 'content-type': 'application/merge-patch+json' }), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body' },
  { name: 'a body without a Content-Type', request: raw(JSON.stringify({ spec: spec() }), {}), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body', mentions: /application\/json/ },
  { name: 'text/plain on an action', request: raw('{}', { 'content-type': 'text/plain' }, `${BASE}/web/scale`), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body' },
  { name: 'a body over 1 MiB', request: raw(JSON.stringify({ spec: spec({ labels: { a: 'x'.repeat(2 * 1024 * 1024) } }) })), status: 413, code: 'BODY_TOO_LARGE', field: 'body', mentions: /1048576 bytes/ },
  { name: 'malformed JSON', request: raw('{"spec": '), status: 400, code: 'REQUEST_INVALID', field: 'body', mentions: /not valid JSON/ },
  { name: 'JSON with trailing garbage', request: raw('{"spec":{}} {"more":1}'), status: 400, code: 'REQUEST_INVALID', field: 'body' },
  { name: 'a body that is an array', request: raw('[1,2,3]'), status: 400, code: 'REQUEST_INVALID', field: 'body' },
  { name: 'a body that is a string', request: raw('"web"'), status: 400, code: 'REQUEST_INVALID', field: 'body' },
  // ── replicas ──
  specCase('replicas 99,999,999', spec({ replicas: 99_999_999 }), 'spec.replicas', /1000/),
  specCase('replicas 1e9', spec({ replicas: 1e9 }), 'spec.replicas', /1000/),
  specCase('replicas one past the limit', spec({ replicas: 1001 }), 'spec.replicas', /--max-replicas/),
  specCase('replicas 1e300', spec({ replicas: 1e300 }), 'spec.replicas'),
  specCase("Kontena's instances past the limit", spec({ instances: 5000 }), 'spec.instances', /1000/),
  specCase('replicas as a string', spec({ replicas: '3' }), 'spec.replicas'),
  // ── counts ──
  specCase('2,000 containers', spec({ containers: many(2000, (i) => container({ name: `c${i}` })) }), 'spec.containers', /at most 32/),
  specCase('33 containers', spec({ containers: many(33, (i) => container({ name: `c${i}` })) }), 'spec.containers', /at most 32/),
  specCase('10,000 labels', spec({ labels: kv(10_000, (i) => [`k${i}`, 'v']) }), 'spec.labels', /at most 64/),
  specCase('65 labels', spec({ labels: kv(65, (i) => [`k${i}`, 'v']) }), 'spec.labels', /at most 64/),
  specCase('500 service ports', spec({ containers: [container({ ports: [{ containerPort: 8080 }] })], ports: many(500, (i) => ({ name: `p${i}`, port: 1000 + i, targetPort: 8080 })) }), 'spec.ports', /at most 100/),
  specCase('101 container ports', spec({ containers: [container({ ports: many(101, (i) => ({ containerPort: 2000 + i })) })] }), 'spec.containers[0].ports', /at most 100/),
  specCase('1,000 env vars of 500 B', spec({ containers: [container({ env: many(1000, (i) => ({ name: `V${i}`, value: 'x'.repeat(500) })) })] }), 'spec.containers[0].env', /at most 256/),
  specCase('1,000 env vars as a map', spec({ containers: [container({ env: kv(1000, (i) => [`V${i}`, 'x']) })] }), 'spec.containers[0].env', /at most 256/),
  specCase('an environment of 400 KB in 200 vars', spec({ containers: [container({ env: many(200, (i) => ({ name: `V${i}`, value: 'x'.repeat(2000) })) })] }), 'spec.containers[0].env', /262144 bytes/),
  specCase('300 command items', spec({ containers: [container({ command: many(300, () => 'x') })] }), 'spec.containers[0].command', /at most 256/),
  specCase('300 args', spec({ containers: [container({ args: many(300, () => 'x') })] }), 'spec.containers[0].args', /at most 256/),
  specCase('17 externalIPs', spec({ externalIPs: many(17, (i) => `127.0.1.${i + 1}`) }), 'spec.externalIPs', /at most 16/),
  specCase('1,001 hand-set endpoints', { name: 'x', containers: [], endpoints: many(1001, (i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:80`) }, 'spec.endpoints', /at most 1000/),
  specCase('a selector of 65 entries', { name: 'x', containers: [], selector: kv(65, (i) => [`k${i}`, 'v']) }, 'spec.selector', /at most 64/),
  specCase('33 probe headers', probe({ httpGet: { port: 'http', httpHeaders: many(33, (i) => ({ name: `h${i}`, value: 'v' })) } }), 'spec.containers[0].readinessProbe.httpGet.httpHeaders', /at most 32/),
  specCase('an exec probe of 300 items', probe({ exec: { command: many(300, () => 'x') } }), 'spec.containers[0].readinessProbe.exec.command', /at most 256/),
  specCase('a healthcheck test of 300 items', spec({ containers: [container({ healthcheck: { test: ['CMD', ...many(300, () => 'x')] } })] }), 'spec.containers[0].healthcheck.test'),
  // ── sizes and lengths ──
  specCase('an env value of 40,000 characters', spec({ containers: [container({ env: [{ name: 'BIG', value: 'x'.repeat(40_000) }] })] }), 'spec.containers[0].env[0].value', /32768 characters/),
  specCase('an env name of 300 characters', spec({ containers: [container({ env: [{ name: 'N'.repeat(300), value: 'x' }] })] }), 'spec.containers[0].env[0].name', /256 characters/),
  specCase('an argument of 40,000 characters', spec({ containers: [container({ args: ['x'.repeat(40_000)] })] }), 'spec.containers[0].args[0]', /32768 characters/),
  specCase('an image name of 2,000 characters', spec({ containers: [container({ image: 'i'.repeat(2000) })] }), 'spec.containers[0].image', /1024 characters/),
  specCase('a workingDir of 5,000 characters', spec({ containers: [container({ workingDir: `/${'d'.repeat(5000)}` })] }), 'spec.containers[0].workingDir', /4096 characters/),
  specCase('a user of 2,000 characters', spec({ containers: [container({ user: 'u'.repeat(2000) })] }), 'spec.containers[0].user', /1024 characters/),
  specCase('a service name of 64 characters', spec({ name: `a${'b'.repeat(63)}` }), 'spec.name', /63 characters/),
  specCase('a container name of 64 characters', spec({ containers: [container({ name: `c${'d'.repeat(63)}` })] }), 'spec.containers[0].name', /63 characters/),
  specCase('a port name of 16 characters', spec({ containers: [container({ ports: [{ name: 'p'.repeat(16), containerPort: 80 }] })] }), 'spec.containers[0].ports[0].name', /15 characters/),
  specCase('a label key of 400 characters', spec({ labels: { [`${'a'.repeat(330)}.io/k`]: 'v' } }), `spec.labels["${'a'.repeat(330)}.io/k"]`),
  specCase('a label value of 64 characters', spec({ labels: { tier: 'v'.repeat(64) } }), 'spec.labels.tier', /63/),
  specCase('a probe path of 2,000 characters', probe({ httpGet: { port: 'http', path: `/${'p'.repeat(2000)}` } }), 'spec.containers[0].readinessProbe.httpGet.path', /1024 characters/),
  specCase('a clusterIP of 2,000 characters', spec({ clusterIP: '1'.repeat(2000) }), 'spec.clusterIP', /1024 characters/),
  specCase('an externalName of 300 characters', { name: 'x', containers: [], type: 'ExternalName', externalName: `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.org` }, 'spec.externalName', /253 characters/),
  // ── durations (a timer past 24.8 days fires at once: a hot loop) ──
  specCase('stopGracePeriod 99999999h', spec({ containers: [container({ stopGracePeriod: '99999999h' })] }), 'spec.containers[0].stopGracePeriod', /24h/),
  specCase('a restart delay of 1e9 seconds', spec({ restartPolicy: { delay: 1e9 } }), 'spec.restartPolicy.delay', /86400 seconds/),
  specCase('a drainTimeout of 1000 days', spec({ drainTimeout: '1000d' }), 'spec.drainTimeout', /24h/),
  specCase('a probe period of 1e12 seconds', probe({ tcpSocket: { port: 8080 }, periodSeconds: 1e12 }), 'spec.containers[0].readinessProbe.periodSeconds', /86400/),
  specCase('an update monitor of 30 days', spec({ updateConfig: { monitor: '720h' } }), 'spec.updateConfig.monitor', /24h/),
  // ── the other requests ──
  { name: 'scale to 99,999,999', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 99_999_999 } }, status: 400, code: 'REQUEST_INVALID', field: 'replicas', mentions: /no more than 1000/ },
  { name: 'scale one past the limit', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 1001 } }, status: 400, code: 'REQUEST_INVALID', field: 'replicas', mentions: /--max-replicas/ },
  { name: 'scale to -1', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: -1 } }, status: 400, code: 'REQUEST_INVALID', field: 'replicas' },
  { name: 'scale to 1.5', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 1.5 } }, status: 400, code: 'REQUEST_INVALID', field: 'replicas' },
  { name: 'scale to 1e300', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 1e300 } }, status: 400, code: 'REQUEST_INVALID', field: 'replicas' },
  { name: 'scale to "many"', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 'many' } }, status: 400, code: 'REQUEST_INVALID', field: 'replicas' },
  { name: 'scale with an unknown field', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 2, replica: 3 } }, status: 400, code: 'REQUEST_INVALID', field: 'replica' },
  { name: 'update to 99,999,999 replicas', request: { method: 'PUT', url: `${BASE}/web`, payload: { spec: spec({ name: 'web', replicas: 99_999_999 }), deploy: true } }, status: 400, code: 'SPEC_INVALID', field: 'spec.replicas', mentions: /1000/ },
  { name: 'update with deploy "yes"', request: { method: 'PUT', url: `${BASE}/web`, payload: { spec: spec({ name: 'web' }), deploy: 'yes' } }, status: 400, code: 'REQUEST_INVALID', field: 'deploy' },
  { name: 'deploy with force 1', request: { method: 'POST', url: `${BASE}/web/deploy`, payload: { force: 1 } }, status: 400, code: 'REQUEST_INVALID', field: 'force' },
  { name: 'a grid that is not a DNS label', request: create(spec(), {}), status: 400, code: 'REQUEST_INVALID', field: 'grid' },
  { name: 'a grid of 64 characters', request: { method: 'GET', url: `/v1/grids/${'g'.repeat(64)}/services` }, status: 400, code: 'REQUEST_INVALID', field: 'grid' },
  { name: 'dryRun=maybe', request: { method: 'POST', url: `${BASE}?dryRun=maybe`, payload: { spec: spec() } }, status: 400, code: 'REQUEST_INVALID', field: 'dryRun' },
  { name: 'an unknown query parameter on create', request: { method: 'POST', url: `${BASE}?force=true`, payload: { spec: spec() } }, status: 400, code: 'REQUEST_INVALID', field: 'force' },
  { name: 'a deploy past the free instance addresses', request: create(spec({ replicas: 20, clusterIP: 'None' }), { deploy: true }), status: 422, code: 'ADDRESS_EXHAUSTED', field: 'spec.replicas', mentions: /only 11 of the 14 addresses/ },
  { name: 'a scale past the free instance addresses', request: { method: 'POST', url: `${BASE}/web/scale`, payload: { replicas: 14 } }, status: 422, code: 'ADDRESS_EXHAUSTED', field: 'replicas', mentions: /only 13 of the 14/ },
  { name: 'a start-first surge past the free instance addresses', request: { method: 'PUT', url: `${BASE}/web`, payload: { spec: spec({ name: 'web', replicas: 13, updateConfig: { order: 'start-first' } }), deploy: true } }, status: 422, code: 'ADDRESS_EXHAUSTED', field: 'spec.replicas', mentions: /13 replicas \+ 1 for start-first/ },
  { name: 'a virtual IP when the service range is full', request: create(spec({ name: 'third' })), status: 422, code: 'ADDRESS_EXHAUSTED', field: 'spec.clusterIP', mentions: /0 of 2 addresses left/ },
  { name: '1,001 endpoints set by hand', request: { method: 'PUT', url: `${BASE}/ext/endpoints`, payload: { addresses: many(1001, (i) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}:5432`) } }, status: 400, code: 'SPEC_INVALID', field: 'spec.endpoints', mentions: /at most 1000/ },
  { name: 'logs with tail=-1', request: { method: 'GET', url: `${BASE}/web/logs?tail=-1` }, status: 400, code: 'REQUEST_INVALID', field: 'tail' },
  { name: 'events since a garbage time', request: { method: 'GET', url: `${BASE}/web/events?since=yesterday-ish` }, status: 400, code: 'REQUEST_INVALID', field: 'since' },
  { name: 'watch from revision "abc"', request: { method: 'GET', url: '/v1/watch?fromRevision=abc' }, status: 400, code: 'REQUEST_INVALID', field: 'fromRevision' },
];

// The grid case needs its own URL: a grid path parameter that is not a DNS-1035 label.
const cases: readonly Case[] = CASES.map((c) => (c.name === 'a grid that is not a DNS label' ? { ...c, request: { ...c.request, url: '/v1/grids/Bad_Grid!/services' } } : c));

describe('API: hostile and malformed input', () => {
  let store: SqliteStore;
  let app: FastifyInstance;

  before(async () => {
    store = openSqliteStore(':memory:');
    // 14 instance addresses, 2 virtual IPs: small enough to run out of on purpose.
    app = createApi({
    authenticator: adminAuthenticator,
      store, telemetry: new FakeTelemetry(), node: 'node-1', version: 'test',
      instanceRange: '127.12.0.0/28', networkRanges: { serviceRange: '127.97.200.0/30', nodePortRange: [30000, 30010] },
    });
    store.upsertNode({ name: 'node-1', address: '127.0.0.1', drivers: ['process'], ready: true, heartbeatAt: new Date().toISOString() });
    for (const payload of [{ spec: spec({ name: 'web', replicas: 2 }), deploy: true }, { spec: spec({ name: 'db' }), deploy: true }, { spec: { name: 'ext', containers: [], clusterIP: 'None', endpoints: ['10.0.0.1:5432'] } }]) {
      const res = await app.inject({ method: 'POST', url: BASE, payload });
      assert.equal(res.statusCode, 201, res.body);
    }
  });
  after(() => app.close());

  it('has at least 60 kinds of hostile input', () => {
    assert.ok(cases.length >= 60, `${cases.length} cases`);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'every case is its own kind');
  });

  for (const c of cases) {
    it(`answers ${c.status} ${c.code} naming ${c.field} to ${c.name}, and stores nothing`, async () => {
      const revision = store.revision();
      const services = store.listServices();
      const res = await app.inject(c.request);
      assert.equal(res.statusCode, c.status, res.body.slice(0, 500));
      const body = res.json() as { code: string; message: string; details: { causes?: { field: string; message: string }[] } };
      assert.equal(body.code, c.code, body.message);
      const fields = (body.details.causes ?? []).map((cause) => cause.field);
      assert.ok(fields.includes(c.field), `causes name ${c.field}: ${JSON.stringify(fields)}`);
      assert.ok(body.message.includes(c.field) || c.field === 'body' || c.field === 'grid', `the message names ${c.field}: ${body.message.slice(0, 300)}`);
      if (c.mentions) assert.match(body.message, c.mentions);
      assert.ok(res.body.length < 64 * 1024, `the answer does not echo the input back (${res.body.length} bytes)`);
      assert.equal(store.revision(), revision, 'nothing was written');
      assert.deepEqual(store.listServices(), services);
    });
  }

  it('still answers, and still creates a valid service, after all of them', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/version' })).statusCode, 200);
    const ok = await app.inject({ method: 'PUT', url: `${BASE}/web`, payload: { spec: spec({ name: 'web', replicas: 3 }), deploy: true } });
    assert.equal(ok.statusCode, 200, ok.body);
    const plain = {} as Record<string, unknown>;
    assert.ok(plain['polluted'] === undefined && plain['replicas'] === undefined && plain['user'] === undefined, 'no prototype was touched');
  });
});
