import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareApiVersions, splitVersionPrefix, unsupportedVersion } from './api-version.js';

describe('Docker API version prefix', () => {
  it('splits the version off the path as moby\'s /v{version:[0-9.]+} matcher does', () => {
    const cases: [string, string | undefined, string][] = [
      ['/v1.41/services?filters=x', '1.41', '/services?filters=x'],
      ['/v1.50/distribution/library/nginx:latest/json', '1.50', '/distribution/library/nginx:latest/json'],
      ['/services', undefined, '/services'],
      ['/v1.50', '1.50', '/'],
      ['/v1.50?x=1', '1.50', '/?x=1'],
      ['/v1/version', '1', '/version'],
      ['/version', undefined, '/version'],
      ['/v1.4x/info', undefined, '/v1.4x/info'],
      ['/volumes/v1.2/x', undefined, '/volumes/v1.2/x'],
    ];
    for (const [url, version, rest] of cases) assert.deepEqual(splitVersionPrefix(url), { version, url: rest }, url);
  });

  it('compares versions number by number, not as text', () => {
    assert.equal(compareApiVersions('1.9', '1.24'), -1);
    assert.equal(compareApiVersions('1.50', '1.5'), 1);
    assert.equal(compareApiVersions('1.24', '1.24.0'), 0);
    assert.equal(compareApiVersions('2', '1.50'), 1);
  });

  it('serves 1.24 through 1.50 and refuses the rest in moby\'s words', () => {
    for (const v of ['1.24', '1.41', '1.50']) assert.equal(unsupportedVersion(v), undefined, v);
    assert.equal(unsupportedVersion('1.23')?.message, 'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version');
    assert.equal(unsupportedVersion('1.51')?.message, 'client version 1.51 is too new. Maximum supported API version is 1.50');
    assert.equal(unsupportedVersion('1.51')?.status, 400);
  });
});
