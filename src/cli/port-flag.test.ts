import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePortFlag } from './port-flag.js';

describe('parsePortFlag', () => {
  const valid: [string, ReturnType<typeof parsePortFlag>][] = [
    ['8080:80', { published: 8080, target: 80, protocol: 'TCP' }],
    ['53:53/udp', { published: 53, target: 53, protocol: 'UDP' }],
    ['80:80/TCP', { published: 80, target: 80, protocol: 'TCP' }],
    ['127.0.0.1:8080:80', { ip: '127.0.0.1', published: 8080, target: 80, protocol: 'TCP' }],
    ['0.0.0.0:5353:53/udp', { ip: '0.0.0.0', published: 5353, target: 53, protocol: 'UDP' }],
  ];
  for (const [input, expected] of valid) {
    it(`reads ${input}`, () => assert.deepEqual(parsePortFlag(input), expected));
  }

  const invalid: [string, RegExp][] = [
    ['80', /expected \[ip:\]published:target\[\/protocol\]/],
    ['web:80', /expected \[ip:\]published:target/],
    ['80:80/sctp', /protocol must be tcp or udp/],
    ['0:80', /published port must be 1-65535/],
    ['80:70000', /target port must be 1-65535/],
    ['300.1.1.1:80:80', /is not an IPv4 address/],
    ['80:80:80', /expected/],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${input} saying why`, () => assert.throws(() => parsePortFlag(input), message));
  }
});
