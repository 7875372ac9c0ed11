import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyPullFailure, engineWords, pullFailedError, registryOf } from './pull-failure.js';

describe('classifyPullFailure', () => {
  const table: [number | undefined, string, string][] = [
    [404, '(HTTP code 404) unexpected - manifest for r:5000/a:1 not found: manifest unknown: manifest unknown ', 'not-found'],
    [undefined, 'manifest unknown', 'not-found'],
    [404, 'pull access denied for nosuch, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied', 'not-found'],
    [500, 'Get "http://127.0.0.1:45799/v2/": dial tcp 127.0.0.1:45799: connect: connection refused', 'unreachable'],
    [500, 'Get "https://nosuchhost.invalid/v2/": dial tcp: lookup nosuchhost.invalid on 10.0.0.53:53: no such host', 'unreachable'],
    [500, 'Get "https://r/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)', 'unreachable'],
    [500, 'Get "https://r/v2/": net/http: TLS handshake timeout', 'unreachable'],
    [500, 'Head "https://r/v2/a/manifests/1": unauthorized: authentication required', 'unauthorized'],
    [401, 'whatever', 'unauthorized'],
    [500, 'Get "https://r/v2/": http: server gave HTTP response to HTTPS client', 'other'],
    [500, 'toomanyrequests: You have reached your pull rate limit', 'other'],
  ];
  for (const [status, message, reason] of table) {
    it(`reads "${message.slice(0, 60)}…" (HTTP ${status ?? '-'}) as ${reason}`, () => {
      assert.equal(classifyPullFailure(status, message), reason);
    });
  }
});

describe('pullFailedError', () => {
  it('says what the registry answered for a missing image, once', () => {
    const e = pullFailedError('registry.example:5000/app:1', 'not-found', '(HTTP code 404) unexpected - manifest for registry.example:5000/app:1 not found: manifest unknown: manifest unknown ');
    assert.equal(e.code, 'IMAGE_PULL_FAILED');
    assert.equal(e.message, "image registry.example:5000/app:1 not found: the registry answered 'manifest unknown'; check the image name and tag");
    assert.deepEqual(e.details, {
      image: 'registry.example:5000/app:1',
      reason: 'not-found',
      registry: 'registry.example:5000',
      engineMessage: 'manifest for registry.example:5000/app:1 not found: manifest unknown',
    });
  });

  it('names the registry that cannot be reached and the engine’s reason', () => {
    const e = pullFailedError('nginx:latest', 'unreachable', 'dial tcp: lookup registry-1.docker.io: no such host');
    assert.match(e.message, /^image nginx:latest cannot be pulled: registry docker\.io is unreachable \(dial tcp: lookup registry-1\.docker\.io: no such host\)/);
  });
});

describe('registryOf / engineWords', () => {
  it('finds the registry host as the engine does', () => {
    assert.equal(registryOf('busybox'), 'docker.io');
    assert.equal(registryOf('library/busybox:1'), 'docker.io');
    assert.equal(registryOf('localhost/app'), 'localhost');
    assert.equal(registryOf('127.0.0.1:5000/a/b:1'), '127.0.0.1:5000');
    assert.equal(registryOf('ghcr.io/x/y@sha256:00'), 'ghcr.io');
  });
  it('drops dockerode’s HTTP prefix and repeated parts', () => {
    assert.equal(engineWords('(HTTP code 500) server error - a: b: b '), 'a: b');
  });
});
