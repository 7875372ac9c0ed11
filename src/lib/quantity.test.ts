import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMemoryBytes, parseCpus, parseMemoryBytes } from './quantity.js';

describe('parseMemoryBytes', () => {
  const cases: [string | number, number][] = [
    [268435456, 268435456],
    ['1048576', 1048576],
    ['256Mi', 256 * 1024 ** 2],
    ['512m', 512 * 1024 ** 2],
    ['512M', 512 * 1024 ** 2],
    ['512mb', 512 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['1Gi', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['128k', 128 * 1024],
    ['128Ki', 128 * 1024],
    ['2t', 2 * 1024 ** 4],
    ['100b', 100],
    [' 64 Mi ', 64 * 1024 ** 2],
    ['0.5k', 512],
    ['1.0001k', 1024],
  ];
  for (const [input, bytes] of cases) {
    it(`reads ${JSON.stringify(input)} as ${bytes} bytes (powers of 1024, as Docker counts)`, () => assert.equal(parseMemoryBytes(input), bytes));
  }

  for (const bad of ['', 'lots', '1x', '-1', '1e9', '1,5G', 'Mi', 1.5, -1, Number.NaN, '9999999999Ti']) {
    it(`refuses ${JSON.stringify(bad)} and says what a size looks like`, () => assert.throws(() => parseMemoryBytes(bad), /256Mi, 512m, 1G or 1Gi/));
  }
});

describe('parseCpus', () => {
  const cases: [string | number, number][] = [
    [0.5, 0.5],
    [2, 2],
    ['1.25', 1.25],
    ['500m', 0.5],
    ['1m', 0.001],
    [0.001, 0.001],
    [1024, 1024],
    [0.1 + 0.2, 0.3],
  ];
  for (const [input, cpus] of cases) {
    it(`reads ${JSON.stringify(input)} as ${cpus} CPUs`, () => assert.equal(parseCpus(input), cpus));
  }

  for (const bad of [0, -1, 1024.001, 0.0001, '0.0005', '0m', 'two', '1.5 cpus', Number.POSITIVE_INFINITY, '1e3']) {
    it(`refuses ${JSON.stringify(bad)}: more than 0, at most 1024, at most 3 decimals`, () => assert.throws(() => parseCpus(bad), /greater than 0 and at most 1024, with at most 3 decimals/));
  }
});

describe('formatMemoryBytes', () => {
  it('names the largest binary unit that divides the size', () => {
    assert.deepEqual([256 * 1024 ** 2, 1024 ** 3, 6 * 1024 ** 2, 1536, 1000].map(formatMemoryBytes), ['256Mi', '1Gi', '6Mi', '1536', '1000']);
  });
});
