import { describe, expect, it } from 'vitest';
// The server's own validation, in this test only (web/ may not import it at run time): each form rule
// must agree with it, so the form never lets through what the server refuses nor refuses what it takes.
import { parseServiceSpec } from '../../../src/model/index.js';
import { envKeyRule, externalNameRule, nameRule, nodePortRule, parseLabels, portNameRule, portRule, splitCommand, timeoutRule, versionRule } from './form-rules.js';

const serverTakes = (input: Record<string, unknown>): boolean => {
  try {
    parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '1'] }], ...input });
    return true;
  } catch {
    return false;
  }
};

const NAMES: readonly [string, boolean][] = [
  ['web', true],
  ['a', true],
  ['a1', true],
  ['my-name', true],
  ['abc-123', true],
  ['a'.repeat(63), true],
  ['a'.repeat(64), false],
  [`a${'-'.repeat(61)}b`, true],
  ['1web', false],
  ['-web', false],
  ['web-', false],
  ['Web', false],
  ['wEb', false],
  ['web_1', false],
  ['web.1', false],
  ['web 1', false],
  ['', false],
  ['a--b', true],
  ['café', false],
];

describe('form rules', () => {
  for (const [name, valid] of NAMES) {
    it(`${valid ? 'takes' : 'refuses'} the service name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}, as the server does`, () => {
      expect(nameRule(name) === undefined).toBe(valid);
      expect(serverTakes({ name })).toBe(valid);
    });
  }

  it('says what is wrong with a name in words, not a regular expression', () => {
    expect(nameRule('1web')).toMatch(/start with a lower-case letter/);
    expect(nameRule('Web')).toMatch(/Lower-case/);
    expect(nameRule('web-')).toMatch(/end with a letter or a digit/);
    expect(nameRule('a'.repeat(64))).toMatch(/63 characters \(this is 64\)/);
    expect(nameRule('')).toMatch(/Required/);
  });

  it('takes versions of lower-case letters and digits up to 16, which the server takes as a label value', () => {
    for (const [v, ok] of [['v1', true], ['v20260101', true], ['a'.repeat(16), true], ['a'.repeat(17), false], ['V1', false], ['v1.2', false], ['v-1', false], ['', false]] as const) {
      expect(versionRule(v) === undefined, v).toBe(ok);
      if (ok) expect(serverTakes({ labels: { version: v } })).toBe(true);
    }
  });

  it('checks ports, node ports and sticky-session timeouts against the server\'s ranges', () => {
    for (const [p, ok] of [['1', true], ['65535', true], ['0', false], ['65536', false], ['80a', false], ['', false], ['-1', false]] as const) {
      expect(portRule(p) === undefined, p).toBe(ok);
      if (/^\d+$/.test(p)) expect(serverTakes({ ports: [{ port: Number(p) }] }), p).toBe(ok);
    }
    expect(nodePortRule('')).toBeUndefined();
    expect(nodePortRule('30000')).toBeUndefined();
    expect(nodePortRule('32767')).toBeUndefined();
    // The server's range is its own (a second berth's is 29000-29999): the server names it on the field.
    expect(nodePortRule('29999')).toBeUndefined();
    for (const [p, ok] of [['0', false], ['65536', false], ['3x', false], ['65535', true]] as const) {
      expect(nodePortRule(p) === undefined, p).toBe(ok);
      if (/^\d+$/.test(p)) expect(serverTakes({ type: 'NodePort', ports: [{ port: 80, nodePort: Number(p) }] }), p).toBe(ok);
    }
    expect(nodePortRule('0')).toMatch(/1 to 65535/);
    for (const [t, ok] of [['1', true], ['10800', true], ['86400', true], ['0', false], ['86401', false], ['1.5', false]] as const) {
      expect(timeoutRule(t) === undefined, t).toBe(ok);
      expect(serverTakes({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: Number(t) } } }), t).toBe(ok);
    }
  });

  it('checks port names and environment names as the server does', () => {
    for (const [n, ok] of [['http', true], ['h2c', true], ['a'.repeat(15), true], ['a'.repeat(16), false], ['HTTP', false], ['-http', false], ['http-', false], ['my_port', false]] as const) {
      expect(portNameRule(n) === undefined, n).toBe(ok);
      expect(serverTakes({ containers: [{ command: ['x'], ports: [{ name: n, containerPort: 80 }] }] }), n).toBe(ok);
    }
    for (const [n, ok] of [['PORT', true], ['my.var', true], ['_x', true], ['1X', false], ['A B', false], ['', false]] as const) {
      expect(envKeyRule(n) === undefined, n).toBe(ok);
      if (n !== '') expect(serverTakes({ containers: [{ command: ['x'], env: [{ name: n, value: 'v' }] }] }), n).toBe(ok);
    }
  });

  it('checks external names as the server does', () => {
    for (const [n, ok] of [['db.example.org', true], ['db', true], ['DB.example.org', false], ['db..org', false], ['-db.org', false]] as const) {
      expect(externalNameRule(n) === undefined, n).toBe(ok);
      expect(serverTakes({ type: 'ExternalName', externalName: n, containers: [] }), n).toBe(ok);
    }
  });

  it('splits a command line into arguments, keeping quoted words whole', () => {
    expect(splitCommand('sleep 1000')).toEqual(['sleep', '1000']);
    expect(splitCommand('  node  "my server.mjs" \'a b\' ""')).toEqual(['node', 'my server.mjs', 'a b', '']);
    expect(splitCommand('echo "say \\"hi\\""')).toEqual(['echo', 'say "hi"']);
    expect(splitCommand('echo "open')).toBeUndefined();
    expect(splitCommand('   ')).toEqual([]);
  });

  it('reads labels as key=value pairs and names the first bad one', () => {
    expect(parseLabels('tier=web, app=shop')).toEqual({ labels: { tier: 'web', app: 'shop' } });
    expect(parseLabels('')).toEqual({ labels: {} });
    expect(parseLabels('tier').error).toMatch(/not key=value/);
    expect(parseLabels('tier=a b').error).toMatch(/Label value/);
  });
});
